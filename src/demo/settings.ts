/**
 * The few Flusso settings the demo launcher needs to print working URLs, read the way Flusso
 * reads them (flag > FLUSSO_* env > --config file > default). Flusso itself stays the authority:
 * the launcher passes every argument through unchanged and only mirrors these values.
 */
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';

/** DemoSettings are the listen addresses Flusso will use. */
export interface DemoSettings {
  readonly httpAddress: string;
  readonly httpPort: number;
  readonly httpsAddress: string;
  readonly httpsPort: number;
  readonly adminAddress: string;
  readonly adminPort: number;
  /** The admin token the user gave (flag, env or config file), if any. */
  readonly adminToken?: string;
}

const DEFAULTS = { httpAddress: '0.0.0.0', httpPort: 8080, httpsAddress: '0.0.0.0', httpsPort: 8443, adminAddress: '127.0.0.1', adminPort: 8081 } as const;

/** flagValue returns the value of `--name v` or `--name=v` in argv (the last one wins), if any. */
export function flagValue(argv: readonly string[], name: string): string | undefined {
  let value: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? '';
    if (arg === `--${name}`) value = argv[++i];
    else if (arg.startsWith(`--${name}=`)) value = arg.slice(name.length + 3);
  }
  return value;
}

function envName(flag: string): string {
  return `FLUSSO_${flag.replaceAll('-', '_').toUpperCase()}`;
}

function camelName(flag: string): string {
  return flag.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
}

/**
 * resolveDemoSettings mirrors Flusso's precedence for the listen settings. A value that does
 * not parse is left for Flusso to reject (it exits 2 with the reason), so here it falls back
 * to the default.
 */
export function resolveDemoSettings(argv: readonly string[], env: NodeJS.ProcessEnv): DemoSettings {
  const configPath = flagValue(argv, 'config') ?? env.FLUSSO_CONFIG;
  let file: Record<string, unknown> = {};
  if (configPath !== undefined) {
    try {
      const parsed: unknown = parse(readFileSync(configPath, 'utf8'));
      if (typeof parsed === 'object' && parsed !== null) file = parsed as Record<string, unknown>;
    } catch {
      // Flusso reports an unreadable config file itself.
    }
  }
  const pick = (flag: string): string | undefined => {
    const fromFile = file[camelName(flag)];
    return flagValue(argv, flag) ?? env[envName(flag)] ?? (fromFile === undefined ? undefined : String(fromFile));
  };
  const port = (flag: string, fallback: number): number => {
    const n = Number(pick(flag));
    return Number.isInteger(n) && n > 0 && n < 65536 ? n : fallback;
  };
  return {
    httpAddress: pick('http-address') ?? DEFAULTS.httpAddress,
    httpPort: port('http-port', DEFAULTS.httpPort),
    httpsAddress: pick('https-address') ?? DEFAULTS.httpsAddress,
    httpsPort: port('https-port', DEFAULTS.httpsPort),
    adminAddress: pick('admin-address') ?? DEFAULTS.adminAddress,
    adminPort: port('admin-port', DEFAULTS.adminPort),
    ...(pick('admin-token') === undefined ? {} : { adminToken: pick('admin-token') as string }),
  };
}

/** dialableAddress turns a wildcard listen address into one a local client can connect to. */
export function dialableAddress(address: string): string {
  if (address === '0.0.0.0' || address === '') return '127.0.0.1';
  if (address === '::') return '[::1]';
  return address.includes(':') ? `[${address}]` : address;
}
