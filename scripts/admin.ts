/**
 * Operator CLI. Works whether or not the server runs, against the same DATA_DIR or DATABASE_URL.
 * Prints JSON (or the bare token) on stdout; errors on stderr with exit code 2.
 */
import fs from 'node:fs';
import knexFactory from 'knex';
import { adminConnection, migrate } from '../db';
import {
  AdminError, createClinic, createUser, isActiveMember, listClinics, listRoles, listUsers,
  setRolePermissions, setUserDisabled, setUserRole,
} from '../server/admin/tenancy';
import { loadOrCreateSigningKey } from '../server/auth/keys';
import { mintAccessToken } from '../server/auth/tokens';
import { ConfigError, loadConfig } from '../server/config';

const USAGE = `usage: npm run --silent admin -- <command> [options]
  clinic create --name NAME
  clinic list
  user create --clinic ID --email EMAIL --role ROLE [--name DISPLAY_NAME]
  user list --clinic ID
  user set-role --clinic ID --user ID --role ROLE
  user disable --user ID [--clinic ID]      (without --clinic: every clinic)
  user enable --user ID [--clinic ID]
  role list --clinic ID
  role set-permissions --clinic ID --role ROLE (--json '{...}' | --file tree.json)
  token --clinic ID --user ID --scope "user/*.cruds" [--patient ID] [--fhir-user Practitioner/x] [--ttl SECONDS]`;

function parseArgs(argv: string[]): { words: string[]; opts: Record<string, string> } {
  const words: string[] = [];
  const opts: Record<string, string> = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a.startsWith('--')) {
      const v = argv[i + 1];
      if (v === undefined || v.startsWith('--')) throw new AdminError(`${a} needs a value`);
      opts[a.slice(2)] = v;
      i++;
    } else words.push(a);
  }
  return { words, opts };
}

const req = (opts: Record<string, string>, name: string): string => {
  const v = opts[name];
  if (!v) throw new AdminError(`--${name} is required`);
  return v;
};

async function main(): Promise<void> {
  const { words, opts } = parseArgs(process.argv.slice(2));
  const cmd = words.join(' ');
  if (!cmd || cmd === 'help') { process.stdout.write(`${USAGE}\n`); return; }
  const cfg = loadConfig({ ...process.env, LOG_LEVEL: 'silent' });
  const conn = await adminConnection(cfg);
  const admin = knexFactory({ client: 'pg', connection: conn.url, pool: { min: 0, max: 2 } });
  try {
    await migrate(conn.url);
    const out = await run(cmd, opts, admin, cfg);
    process.stdout.write(typeof out === 'string' ? `${out}\n` : `${JSON.stringify(out, null, 2)}\n`);
  } finally {
    await admin.destroy();
    await conn.stop();
  }
}

async function run(cmd: string, opts: Record<string, string>, admin: knexFactory.Knex, cfg: ReturnType<typeof loadConfig>): Promise<unknown> {
  switch (cmd) {
    case 'clinic create': return createClinic(admin, req(opts, 'name'));
    case 'clinic list': return listClinics(admin);
    case 'user create': return createUser(admin, { clinicId: req(opts, 'clinic'), email: req(opts, 'email'), role: req(opts, 'role'), displayName: opts.name });
    case 'user list': return listUsers(admin, req(opts, 'clinic'));
    case 'user set-role': return setUserRole(admin, { clinicId: req(opts, 'clinic'), userId: req(opts, 'user'), role: req(opts, 'role') });
    case 'user disable': return setUserDisabled(admin, { userId: req(opts, 'user'), clinicId: opts.clinic, disabled: true });
    case 'user enable': return setUserDisabled(admin, { userId: req(opts, 'user'), clinicId: opts.clinic, disabled: false });
    case 'role list': return listRoles(admin, req(opts, 'clinic'));
    case 'role set-permissions': {
      const text = opts.json ?? (opts.file ? fs.readFileSync(opts.file, 'utf8') : undefined);
      if (!text) throw new AdminError('--json or --file is required');
      let tree: unknown;
      try { tree = JSON.parse(text); } catch { throw new AdminError('the permission tree is not valid JSON'); }
      return setRolePermissions(admin, { clinicId: req(opts, 'clinic'), role: req(opts, 'role'), permissions: tree });
    }
    case 'token': {
      const clinicId = req(opts, 'clinic');
      const userId = req(opts, 'user');
      const ttl = opts.ttl === undefined ? 3600 : Number(opts.ttl);
      if (!Number.isInteger(ttl) || ttl < 1 || ttl > 86_400) throw new AdminError('--ttl must be an integer number of seconds from 1 to 86400');
      if (!(await isActiveMember(admin, clinicId, userId))) throw new AdminError(`user ${userId} has no active membership at clinic ${clinicId}`);
      const key = await loadOrCreateSigningKey(cfg.dataDir);
      return mintAccessToken(key, { issuer: cfg.tokenIssuer, audience: cfg.tokenAudience, clinicClaim: cfg.clinicClaim }, {
        clinicId, userId, scope: req(opts, 'scope'), patientId: opts.patient, fhirUser: opts['fhir-user'], ttlSeconds: ttl,
      });
    }
    default:
      throw new AdminError(`unknown command "${cmd}"\n${USAGE}`);
  }
}

main().catch((err) => {
  if (err instanceof AdminError || err instanceof ConfigError) {
    process.stderr.write(`error: ${err.message}\n`);
    process.exit(2);
  }
  process.stderr.write(`error: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
