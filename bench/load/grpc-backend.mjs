#!/usr/bin/env node
/**
 * The gRPC backend of bench/load/grpc.mjs: a @grpc/grpc-js server (h2c) on 127.0.0.1:PORT with
 * one unary method, /flusso.bench.Echo/Unary, that answers its request bytes. Prints "ready" once
 * it listens.
 *
 *   node bench/load/grpc-backend.mjs PORT
 */
import * as grpc from '@grpc/grpc-js';
import { exitOnHelp } from './help.mjs';

exitOnHelp(import.meta.url);
const port = Number(process.argv[2]);
if (!Number.isInteger(port) || port < 1) {
  console.error('usage: node bench/load/grpc-backend.mjs PORT');
  process.exit(2);
}
const id = (b) => b;
const server = new grpc.Server();
server.addService(
  { unary: { path: '/flusso.bench.Echo/Unary', requestStream: false, responseStream: false, requestSerialize: id, requestDeserialize: id, responseSerialize: id, responseDeserialize: id } },
  { unary: (call, cb) => cb(null, call.request) },
);
server.bindAsync(`127.0.0.1:${port}`, grpc.ServerCredentials.createInsecure(), (err) => {
  if (err) {
    console.error(err);
    process.exit(1);
  }
  console.log('ready');
});
