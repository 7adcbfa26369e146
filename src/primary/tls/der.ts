/**
 * A tiny DER (ASN.1 Distinguished Encoding Rules, ITU-T X.690) encoder, and a reader just big
 * enough to walk a certificate's top-level structure. It exists so that Flusso can write X.509
 * certificates (x509.ts) without an openssl binary: Node has no API to create certificates.
 * Every function is pure and returns a fresh Buffer; bad input throws a RangeError.
 */

/** Tag holds the universal tag numbers this module writes. */
export const Tag = {
  BOOLEAN: 0x01,
  INTEGER: 0x02,
  BIT_STRING: 0x03,
  OCTET_STRING: 0x04,
  NULL: 0x05,
  OID: 0x06,
  UTF8_STRING: 0x0c,
  PRINTABLE_STRING: 0x13,
  IA5_STRING: 0x16,
  UTC_TIME: 0x17,
  GENERALIZED_TIME: 0x18,
  SEQUENCE: 0x30,
  SET: 0x31,
} as const;

const CONSTRUCTED = 0x20;
const CONTEXT = 0x80;

/** tlv encodes one value: a one-byte tag, a definite length (short or long form) and the content. */
export function tlv(tag: number, content: Buffer): Buffer {
  if (!Number.isInteger(tag) || tag < 0 || tag > 0xff || (tag & 0x1f) === 0x1f) {
    throw new RangeError(`der: tag ${tag} is not a one-byte tag`);
  }
  return Buffer.concat([Buffer.of(tag), encodeLength(content.length), content]);
}

function encodeLength(length: number): Buffer {
  if (length < 0x80) return Buffer.of(length);
  const bytes: number[] = [];
  for (let n = length; n > 0; n = Math.floor(n / 256)) bytes.unshift(n % 256);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

/** sequence encodes a SEQUENCE of already-encoded values, in order. */
export function sequence(...items: readonly Buffer[]): Buffer {
  return tlv(Tag.SEQUENCE, Buffer.concat(items));
}

/**
 * set encodes a SET OF already-encoded values. DER orders the elements of a SET OF by their
 * encodings (X.690 §11.6), so the result does not depend on argument order.
 */
export function set(...items: readonly Buffer[]): Buffer {
  return tlv(Tag.SET, Buffer.concat([...items].sort(Buffer.compare)));
}

/**
 * integer encodes an INTEGER in minimal two's complement. A bigint may be negative; a Buffer
 * is read as an unsigned big-endian magnitude (a serial number's random bytes), so a value
 * whose top bit is set gains a leading 0x00 and stays positive.
 */
export function integer(value: bigint | Buffer): Buffer {
  return tlv(Tag.INTEGER, typeof value === 'bigint' ? twosComplement(value) : unsignedMagnitude(value));
}

function unsignedMagnitude(bytes: Buffer): Buffer {
  let start = 0;
  while (start < bytes.length - 1 && bytes[start] === 0) start++;
  const body = bytes.length === 0 ? Buffer.of(0) : bytes.subarray(start);
  return (body[0] ?? 0) & 0x80 ? Buffer.concat([Buffer.of(0), body]) : Buffer.from(body);
}

function twosComplement(value: bigint): Buffer {
  // The shortest width whose signed range holds the value: X.690 §8.3.2 forbids redundant
  // leading 0x00 or 0xff bytes.
  let width = 1;
  while (value < -(1n << BigInt(width * 8 - 1)) || value >= 1n << BigInt(width * 8 - 1)) width++;
  let v = BigInt.asUintN(width * 8, value);
  const out = Buffer.alloc(width);
  for (let i = width - 1; i >= 0; i--, v >>= 8n) out[i] = Number(v & 0xffn);
  return out;
}

/** oid encodes an OBJECT IDENTIFIER from its dotted form, such as "2.5.4.3". */
export function oid(dotted: string): Buffer {
  if (!/^[0-2]\.(0|[1-9]\d*)(\.(0|[1-9]\d*))*$/.test(dotted)) throw new RangeError(`der: "${dotted}" is not a dotted OID`);
  const arcs = dotted.split('.').map(BigInt);
  const [first = 0n, second = 0n, ...rest] = arcs;
  // X.690 §8.19.4: the first two arcs share one subidentifier; only arc 2 may have a second arc >= 40.
  if (first < 2n && second >= 40n) throw new RangeError(`der: "${dotted}" has a second arc of 40 or more under arc ${first}`);
  return tlv(Tag.OID, Buffer.from([first * 40n + second, ...rest].flatMap(base128)));
}

function base128(value: bigint): number[] {
  const out = [Number(value & 0x7fn)];
  for (let v = value >> 7n; v > 0n; v >>= 7n) out.unshift(Number(v & 0x7fn) | 0x80);
  return out;
}

/** nullValue encodes NULL (named so because `null` is a keyword). */
export function nullValue(): Buffer {
  return Buffer.of(Tag.NULL, 0);
}

/** boolean encodes a BOOLEAN; DER writes TRUE as 0xff (X.690 §11.1). */
export function boolean(value: boolean): Buffer {
  return tlv(Tag.BOOLEAN, Buffer.of(value ? 0xff : 0));
}

/** octetString encodes an OCTET STRING. */
export function octetString(content: Buffer): Buffer {
  return tlv(Tag.OCTET_STRING, content);
}

/** bitString encodes a BIT STRING whose last byte has `unusedBits` (0–7) padding bits. */
export function bitString(content: Buffer, unusedBits = 0): Buffer {
  if (!Number.isInteger(unusedBits) || unusedBits < 0 || unusedBits > 7 || (content.length === 0 && unusedBits !== 0)) {
    throw new RangeError(`der: ${unusedBits} unused bits is not valid for ${content.length} bytes`);
  }
  return tlv(Tag.BIT_STRING, Buffer.concat([Buffer.of(unusedBits), content]));
}

/**
 * namedBits encodes a BIT STRING of named bits (such as keyUsage), bit 0 being the most
 * significant bit of the first byte. DER drops trailing zero bits (X.690 §11.2.2).
 */
export function namedBits(bits: readonly number[]): Buffer {
  const top = Math.max(-1, ...bits);
  const content = Buffer.alloc(Math.ceil((top + 1) / 8));
  for (const bit of bits) content[bit >> 3] = (content[bit >> 3] ?? 0) | (0x80 >> (bit & 7));
  return bitString(content, top < 0 ? 0 : 7 - (top & 7));
}

/** utf8String encodes a UTF8String. */
export function utf8String(text: string): Buffer {
  return tlv(Tag.UTF8_STRING, Buffer.from(text, 'utf8'));
}

/** printableString encodes a PrintableString; it throws on characters outside that set (X.680 §41.4). */
export function printableString(text: string): Buffer {
  if (!/^[A-Za-z0-9 '()+,\-./:=?]*$/.test(text)) throw new RangeError('der: text has characters a PrintableString cannot hold');
  return tlv(Tag.PRINTABLE_STRING, Buffer.from(text, 'latin1'));
}

/** ia5String encodes an IA5String (ASCII), the type of a dNSName. */
export function ia5String(text: string): Buffer {
  if (!/^[\x00-\x7f]*$/.test(text)) throw new RangeError('der: text has characters an IA5String cannot hold');
  return tlv(Tag.IA5_STRING, Buffer.from(text, 'latin1'));
}

/** utcTime encodes a UTCTime `YYMMDDHHMMSSZ`; milliseconds are dropped. Years 1950–2049 only. */
export function utcTime(date: Date): Buffer {
  const year = date.getUTCFullYear();
  if (year < 1950 || year > 2049) throw new RangeError(`der: year ${year} does not fit a UTCTime`);
  return tlv(Tag.UTC_TIME, Buffer.from(timeDigits(date).slice(2), 'latin1'));
}

/** generalizedTime encodes a GeneralizedTime `YYYYMMDDHHMMSSZ`; milliseconds are dropped. */
export function generalizedTime(date: Date): Buffer {
  const year = date.getUTCFullYear();
  if (year < 0 || year > 9999) throw new RangeError(`der: year ${year} does not fit a GeneralizedTime`);
  return tlv(Tag.GENERALIZED_TIME, Buffer.from(timeDigits(date), 'latin1'));
}

/**
 * time encodes an X.509 Time: a UTCTime through 2049 and a GeneralizedTime from 2050 on, as
 * RFC 5280 §4.1.2.5 requires.
 */
export function time(date: Date): Buffer {
  const year = date.getUTCFullYear();
  return year >= 1950 && year <= 2049 ? utcTime(date) : generalizedTime(date);
}

function timeDigits(date: Date): string {
  if (Number.isNaN(date.getTime())) throw new RangeError('der: invalid Date');
  const two = (n: number): string => String(n).padStart(2, '0');
  return `${String(date.getUTCFullYear()).padStart(4, '0')}${two(date.getUTCMonth() + 1)}${two(date.getUTCDate())}` +
    `${two(date.getUTCHours())}${two(date.getUTCMinutes())}${two(date.getUTCSeconds())}Z`;
}

/** explicit wraps an encoded value in a constructed context-specific tag `[n] EXPLICIT`. */
export function explicit(n: number, encoded: Buffer): Buffer {
  return tlv(contextTag(n) | CONSTRUCTED, encoded);
}

/**
 * implicit re-tags an encoded value as `[n] IMPLICIT`: the universal tag is replaced by the
 * context-specific one, keeping its constructed bit (a dNSName is `implicit(2, ia5String(…))`).
 */
export function implicit(n: number, encoded: Buffer): Buffer {
  const first = encoded[0];
  if (first === undefined) throw new RangeError('der: nothing to re-tag');
  const out = Buffer.from(encoded);
  out[0] = contextTag(n) | (first & CONSTRUCTED);
  return out;
}

function contextTag(n: number): number {
  if (!Number.isInteger(n) || n < 0 || n > 30) throw new RangeError(`der: context tag [${n}] is out of range`);
  return CONTEXT | n;
}

/** Element is one TLV found by readElement: its tag and where its header and content lie. */
export interface Element {
  readonly tag: number;
  /** Offset of the tag byte. */
  readonly start: number;
  /** Offset of the first content byte. */
  readonly contentStart: number;
  /** Offset just past the content. */
  readonly end: number;
}

/**
 * readElement reads the TLV that starts at `offset`. It accepts only what DER allows here
 * (one-byte tags, definite lengths) and throws a RangeError when the element overruns `limit`.
 */
export function readElement(buf: Buffer, offset = 0, limit = buf.length): Element {
  const tag = buf[offset];
  const first = buf[offset + 1];
  if (tag === undefined || first === undefined || offset + 2 > limit) throw new RangeError('der: truncated element header');
  if ((tag & 0x1f) === 0x1f) throw new RangeError('der: multi-byte tags are not supported');
  let length = first;
  let contentStart = offset + 2;
  if (first & 0x80) {
    const count = first & 0x7f;
    if (count === 0 || count > 4) throw new RangeError('der: indefinite or oversized length');
    length = 0;
    for (let i = 0; i < count; i++) {
      const byte = buf[contentStart + i];
      if (byte === undefined) throw new RangeError('der: truncated length');
      length = length * 256 + byte;
    }
    contentStart += count;
  }
  const end = contentStart + length;
  if (end > limit) throw new RangeError('der: element overruns its container');
  return { tag, start: offset, contentStart, end };
}

/** readChildren lists the elements inside a constructed element, in order. */
export function readChildren(buf: Buffer, parent: Element): Element[] {
  const out: Element[] = [];
  for (let at = parent.contentStart; at < parent.end; ) {
    const child = readElement(buf, at, parent.end);
    out.push(child);
    at = child.end;
  }
  return out;
}
