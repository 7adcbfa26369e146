// The DER encoder against hand-checked X.690 encodings, and the reader against malformed input.
import { describe, expect, it } from 'vitest';
import * as der from '../../../../src/primary/tls/der.js';

const hex = (b: Buffer): string => b.toString('hex');

describe('der encoders', () => {
  it.each([
    { name: 'integer 0', got: () => der.integer(0n), want: '020100' },
    { name: 'integer 127', got: () => der.integer(127n), want: '02017f' },
    { name: 'integer 128 needs a sign byte', got: () => der.integer(128n), want: '02020080' },
    { name: 'integer 256', got: () => der.integer(256n), want: '02020100' },
    { name: 'integer -1', got: () => der.integer(-1n), want: '0201ff' },
    { name: 'integer -128', got: () => der.integer(-128n), want: '020180' },
    { name: 'integer -129', got: () => der.integer(-129n), want: '0202ff7f' },
    { name: 'integer 2^64', got: () => der.integer(1n << 64n), want: '0209010000000000000000' },
    { name: 'integer Buffer with leading zeros', got: () => der.integer(Buffer.from('00007f', 'hex')), want: '02017f' },
    { name: 'integer Buffer with top bit set stays positive', got: () => der.integer(Buffer.from('80ff', 'hex')), want: '02030080ff' },
    { name: 'integer empty Buffer is zero', got: () => der.integer(Buffer.alloc(0)), want: '020100' },
    { name: 'oid commonName', got: () => der.oid('2.5.4.3'), want: '0603550403' },
    { name: 'oid rsaEncryption', got: () => der.oid('1.2.840.113549.1.1.1'), want: '06092a864886f70d010101' },
    { name: 'oid ecdsa-with-SHA256', got: () => der.oid('1.2.840.10045.4.3.2'), want: '06082a8648ce3d040302' },
    { name: 'oid arc 2 with a large second arc', got: () => der.oid('2.999.3'), want: '0603883703' },
    { name: 'null', got: () => der.nullValue(), want: '0500' },
    { name: 'boolean true', got: () => der.boolean(true), want: '0101ff' },
    { name: 'boolean false', got: () => der.boolean(false), want: '010100' },
    { name: 'octet string', got: () => der.octetString(Buffer.from('abc')), want: '0403616263' },
    { name: 'bit string', got: () => der.bitString(Buffer.from('a0', 'hex'), 5), want: '030205a0' },
    { name: 'named bits 0 and 2 (digitalSignature, keyEncipherment)', got: () => der.namedBits([0, 2]), want: '030205a0' },
    { name: 'named bits 5 and 6 (keyCertSign, cRLSign)', got: () => der.namedBits([5, 6]), want: '03020106' },
    { name: 'named bit 8 spills into a second byte', got: () => der.namedBits([0, 8]), want: '0303078080' },
    { name: 'no named bits', got: () => der.namedBits([]), want: '030100' },
    { name: 'utf8 string', got: () => der.utf8String('é'), want: '0c02c3a9' },
    { name: 'printable string', got: () => der.printableString('Ab 1'), want: '130441622031' },
    { name: 'ia5 string', got: () => der.ia5String('a.b'), want: '1603612e62' },
    { name: 'sequence', got: () => der.sequence(der.integer(1n), der.nullValue()), want: '3005020101' + '0500' },
    { name: 'empty sequence', got: () => der.sequence(), want: '3000' },
    { name: 'set sorts its elements', got: () => der.set(der.integer(2n), der.integer(1n)), want: '3106020101020102' },
    { name: 'explicit [0]', got: () => der.explicit(0, der.integer(2n)), want: 'a003020102' },
    { name: 'explicit [3]', got: () => der.explicit(3, der.sequence()), want: 'a3023000' },
    { name: 'implicit [2] on a primitive', got: () => der.implicit(2, der.ia5String('a')), want: '820161' },
    { name: 'implicit [1] keeps the constructed bit', got: () => der.implicit(1, der.sequence()), want: 'a100' },
  ])('$name', ({ got, want }) => {
    expect(hex(got())).toBe(want);
  });

  it.each([
    { length: 127, header: '047f' },
    { length: 128, header: '048180' },
    { length: 255, header: '0481ff' },
    { length: 256, header: '04820100' },
    { length: 70_000, header: '0483011170' },
  ])('writes a $length-byte length as $header', ({ length, header }) => {
    const out = der.octetString(Buffer.alloc(length));
    expect(hex(out.subarray(0, header.length / 2))).toBe(header);
    expect(out.length).toBe(header.length / 2 + length);
  });

  it.each([
    { name: 'UTCTime in 1950', date: '1950-01-01T00:00:00Z', want: '170d3530303130313030303030305a' },
    { name: 'UTCTime in 2049', date: '2049-12-31T23:59:59.999Z', want: '170d3439313233313233353935395a' },
    { name: 'GeneralizedTime from 2050', date: '2050-01-01T00:00:00Z', want: '180f32303530303130313030303030305a' },
    { name: 'GeneralizedTime before 1950', date: '1949-12-31T23:59:59Z', want: '180f31393439313233313233353935395a' },
  ])('time: $name', ({ date, want }) => {
    expect(hex(der.time(new Date(date)))).toBe(want);
  });

  it.each([
    { name: 'a non-dotted OID', fn: () => der.oid('2.5.x') },
    { name: 'an OID with one arc', fn: () => der.oid('2') },
    { name: 'an OID with a second arc of 40 under arc 1', fn: () => der.oid('1.40') },
    { name: 'a PrintableString with "@"', fn: () => der.printableString('a@b') },
    { name: 'an IA5String with "é"', fn: () => der.ia5String('é') },
    { name: 'a UTCTime in 2050', fn: () => der.utcTime(new Date('2050-01-01T00:00:00Z')) },
    { name: 'an invalid Date', fn: () => der.time(new Date(Number.NaN)) },
    { name: 'a bit string with 8 unused bits', fn: () => der.bitString(Buffer.of(0), 8) },
    { name: 'context tag [31]', fn: () => der.explicit(31, der.nullValue()) },
  ])('throws a RangeError on $name', ({ fn }) => {
    expect(fn).toThrow(RangeError);
  });
});

describe('der reader', () => {
  it('walks nested elements and long lengths', () => {
    const big = der.octetString(Buffer.alloc(300, 7));
    const doc = der.sequence(der.integer(5n), der.sequence(big, der.nullValue()));
    const root = der.readElement(doc);
    expect(root).toEqual({ tag: 0x30, start: 0, contentStart: 4, end: doc.length });
    const [n, inner] = der.readChildren(doc, root);
    expect(n?.tag).toBe(der.Tag.INTEGER);
    expect(doc.subarray(n?.start, n?.end)).toEqual(der.integer(5n));
    const parts = inner === undefined ? [] : der.readChildren(doc, inner);
    expect(parts.map((p) => p.tag)).toEqual([der.Tag.OCTET_STRING, der.Tag.NULL]);
    expect(parts[0] && parts[0].end - parts[0].contentStart).toBe(300);
  });

  it.each([
    { name: 'an empty buffer', bytes: '' },
    { name: 'a header with no length', bytes: '30' },
    { name: 'content longer than the buffer', bytes: '3005020101' },
    { name: 'an indefinite length', bytes: '30800000' },
    { name: 'a truncated long length', bytes: '3082' },
  ])('throws a RangeError on $name', ({ bytes }) => {
    expect(() => der.readElement(Buffer.from(bytes, 'hex'))).toThrow(RangeError);
  });

  it('refuses a child that overruns its parent', () => {
    const bad = Buffer.from('3003020501', 'hex');
    expect(() => der.readChildren(bad, der.readElement(bad))).toThrow(RangeError);
  });
});
