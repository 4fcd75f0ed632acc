/**
 * Operator CLI. Works whether or not the server runs, against the same DATA_DIR or DATABASE_URL.
 * Prints JSON (or the bare token) on stdout; errors on stderr with exit code 2.
 */
import fs from 'node:fs';
import knexFactory from 'knex';
import { adminConnection, migrate } from '../db';
import {
  AdminError, createClinic, createUser, isActiveMember, listClinics, listRoles, listUsers, practitionerOf,
  setRolePermissions, setUserDisabled, setUserPractitioner, setUserRole,
} from '../server/admin/tenancy';
import {
  adminSigningKey, createLaunch, createOAuthClient, enrollMfa, listOAuthClients, readJwksFile, setClientDisabled,
  setUserPassword, unlockUser,
} from '../server/admin/oauth';
import { unlockAddress } from '../server/admin/lockout';
import { mintAccessToken } from '../server/auth/tokens';
import { ConfigError, loadConfig } from '../server/config';
import { PASSWORD_MIN_LENGTH } from '../server/oauth/credentials';
import { rotateSigningKey } from '../server/oauth/signing-keys';
import { useSecretKeys } from '../server/oauth/secret-box';
import { rotateSecretsKey } from '../server/admin/secrets';
import { setClinicPolicy } from '../server/admin/access-policy';
import { cliOperator, type PrivilegedActor } from '../server/audit/privileged';

const USAGE = `usage: npm run --silent admin -- <command> [options] [--actor NAME]
  (--actor: who the audit trail names as the operator of a change; default: OS user@host)
  clinic create --name NAME
  clinic list
  clinic set-policy --clinic ID --policy clinic-wide|care-team   (who sees a patient's clinical records)
  user create --clinic ID --email EMAIL --role ROLE [--name DISPLAY_NAME] [--password P] [--practitioner ID]
                (--practitioner: the clinic's Practitioner this user is; tokens name it as fhirUser)
  user set-practitioner --clinic ID --user ID --practitioner ID
  user list --clinic ID
  user set-role --clinic ID --user ID --role ROLE
  user disable --user ID [--clinic ID]      (without --clinic: every clinic)
  user enable --user ID [--clinic ID]
  user set-password --user ID --password P
  user mfa-enroll --user ID                 (prints the TOTP secret and otpauth URI)
  user unlock --user ID                     (lifts an account's sign-in lockout)
  address unlock --address IP               (lifts a source address's sign-in lockout)
  client create --clinic ID --name N --type public|confidential-asymmetric --scope "..."
                [--redirect-uri URI...] [--jwks-file F | --jwks-url U] [--role ROLE]
                (--role: what system/ scopes act as at the clinic; required with system/ scopes)
  client list [--clinic ID]
  client disable --client ID | client enable --client ID
  launch create --clinic ID --user ID [--patient ID] [--client ID]   (EHR launch value)
  key rotate [--propagate SECONDS]          (new signing key; old one stays published until its tokens expire)
  secrets rotate-key                        (new sealing key for secrets at rest; re-seals every secret)
  role list --clinic ID
  role set-permissions --clinic ID --role ROLE (--json '{...}' | --file tree.json)
  token --clinic ID --user ID --scope "user/*.cruds" [--patient ID] [--fhir-user Practitioner/x] [--ttl SECONDS]
                (without --fhir-user: the user's linked Practitioner, if any)`;

// Options that take several values: `--redirect-uri A B` or `--redirect-uri A --redirect-uri B`.
const MULTI = new Set(['redirect-uri']);

function parseArgs(argv: string[]): { words: string[]; opts: Record<string, string>; lists: Record<string, string[]> } {
  const words: string[] = [];
  const opts: Record<string, string> = {};
  const lists: Record<string, string[]> = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a.startsWith('--')) {
      const name = a.slice(2);
      const v = argv[i + 1];
      if (v === undefined || v.startsWith('--')) throw new AdminError(`${a} needs a value`);
      opts[name] = v;
      (lists[name] ??= []).push(v);
      i++;
      while (MULTI.has(name) && argv[i + 1] !== undefined && !argv[i + 1].startsWith('--')) lists[name].push(argv[++i]);
    } else words.push(a);
  }
  return { words, opts, lists };
}

const req = (opts: Record<string, string>, name: string): string => {
  const v = opts[name];
  if (!v) throw new AdminError(`--${name} is required`);
  return v;
};

/** The operator every privileged change is audited under: `--actor`, or the OS user at this host. */
function operatorOf(opts: Record<string, string>): PrivilegedActor {
  const given = opts.actor;
  if (given !== undefined && (given.trim() === '' || given.length > 200 || /[\u0000-\u001f\u007f]/.test(given))) throw new AdminError('--actor must be 1 to 200 printable characters');
  return { operator: cliOperator(given?.trim()) };
}

async function main(): Promise<void> {
  const { words, opts, lists } = parseArgs(process.argv.slice(2));
  const cmd = words.join(' ');
  const actor = operatorOf(opts);
  if (!cmd || cmd === 'help') { process.stdout.write(`${USAGE}\n`); return; }
  const cfg = loadConfig({ ...process.env, LOG_LEVEL: 'silent' });
  const conn = await adminConnection(cfg);
  const admin = knexFactory({ client: 'pg', connection: conn.url, pool: { min: 0, max: 2 } });
  try {
    await migrate(conn.url);
    useSecretKeys(cfg);
    const out = await run(cmd, opts, admin, cfg, lists, actor);
    process.stdout.write(typeof out === 'string' ? `${out}\n` : `${JSON.stringify(out, null, 2)}\n`);
  } finally {
    await admin.destroy();
    await conn.stop();
  }
}

async function run(cmd: string, opts: Record<string, string>, admin: knexFactory.Knex, cfg: ReturnType<typeof loadConfig>, lists: Record<string, string[]>, actor: PrivilegedActor): Promise<unknown> {
  const oauth = await runOAuth(cmd, opts, admin, lists, actor);
  if (oauth !== undefined) return oauth;
  switch (cmd) {
    case 'clinic create': return createClinic(admin, req(opts, 'name'), actor);
    case 'clinic list': return listClinics(admin);
    case 'clinic set-policy': return setClinicPolicy(admin, { clinicId: req(opts, 'clinic'), policy: req(opts, 'policy') }, actor);
    case 'secrets rotate-key': return rotateSecretsKey(admin, cfg, actor);
    case 'user create': {
      // Check the password before creating anyone, so a weak one leaves nothing half-made.
      if (opts.password !== undefined && opts.password.length < PASSWORD_MIN_LENGTH) throw new AdminError(`--password must be at least ${PASSWORD_MIN_LENGTH} characters`);
      const user = await createUser(admin, {
        clinicId: req(opts, 'clinic'), email: req(opts, 'email'), role: req(opts, 'role'), displayName: opts.name, practitionerId: opts.practitioner,
      }, actor);
      if (opts.password !== undefined) await setUserPassword(admin, user.id, opts.password, actor);
      return { ...user, ...(opts.password !== undefined ? { password: 'set' } : {}) };
    }
    case 'user list': return listUsers(admin, req(opts, 'clinic'));
    case 'user set-practitioner': return setUserPractitioner(admin, { clinicId: req(opts, 'clinic'), userId: req(opts, 'user'), practitionerId: req(opts, 'practitioner') }, actor);
    case 'user set-role': return setUserRole(admin, { clinicId: req(opts, 'clinic'), userId: req(opts, 'user'), role: req(opts, 'role') }, actor);
    case 'user disable': return setUserDisabled(admin, { userId: req(opts, 'user'), clinicId: opts.clinic, disabled: true }, actor);
    case 'user enable': return setUserDisabled(admin, { userId: req(opts, 'user'), clinicId: opts.clinic, disabled: false }, actor);
    case 'role list': return listRoles(admin, req(opts, 'clinic'));
    case 'role set-permissions': {
      const text = opts.json ?? (opts.file ? fs.readFileSync(opts.file, 'utf8') : undefined);
      if (!text) throw new AdminError('--json or --file is required');
      let tree: unknown;
      try { tree = JSON.parse(text); } catch { throw new AdminError('the permission tree is not valid JSON'); }
      return setRolePermissions(admin, { clinicId: req(opts, 'clinic'), role: req(opts, 'role'), permissions: tree }, actor);
    }
    case 'token': {
      const clinicId = req(opts, 'clinic');
      const userId = req(opts, 'user');
      const ttl = opts.ttl === undefined ? Math.min(3600, cfg.maxTokenLifetime) : Number(opts.ttl);
      if (!Number.isInteger(ttl) || ttl < 1 || ttl > cfg.maxTokenLifetime) throw new AdminError(`--ttl must be an integer number of seconds from 1 to ${cfg.maxTokenLifetime} (MAX_TOKEN_LIFETIME)`);
      if (!(await isActiveMember(admin, clinicId, userId))) throw new AdminError(`user ${userId} has no active membership at clinic ${clinicId}`);
      const key = await adminSigningKey(admin, cfg.dataDir);
      const practitioner = opts['fhir-user'] === undefined ? await practitionerOf(admin, clinicId, userId) : undefined;
      const fhirUser = opts['fhir-user'] ?? (practitioner ? `${cfg.fhirBaseUrl}/Practitioner/${practitioner}` : undefined);
      return mintAccessToken(key, { issuer: cfg.tokenIssuer, audience: cfg.tokenAudience, clinicClaim: cfg.clinicClaim }, {
        clinicId, userId, scope: req(opts, 'scope'), patientId: opts.patient, fhirUser, ttlSeconds: ttl,
      });
    }
    default:
      throw new AdminError(`unknown command "${cmd}"\n${USAGE}`);
  }
}

/** The authorization server's commands (undefined: not one of them). */
async function runOAuth(cmd: string, opts: Record<string, string>, admin: knexFactory.Knex, lists: Record<string, string[]>, actor: PrivilegedActor): Promise<unknown> {
  switch (cmd) {
    case 'user set-password': return setUserPassword(admin, req(opts, 'user'), req(opts, 'password'), actor);
    case 'user mfa-enroll': return enrollMfa(admin, req(opts, 'user'), actor);
    case 'user unlock': return unlockUser(admin, req(opts, 'user'), actor);
    case 'address unlock': return unlockAddress(admin, req(opts, 'address'));
    case 'client create': {
      const type = req(opts, 'type');
      if (type !== 'public' && type !== 'confidential-asymmetric') throw new AdminError('--type must be public or confidential-asymmetric');
      return createOAuthClient(admin, {
        clinicId: req(opts, 'clinic'), name: req(opts, 'name'), type, scope: req(opts, 'scope'), role: opts.role,
        redirectUris: lists['redirect-uri'] ?? [], jwks: opts['jwks-file'] ? readJwksFile(opts['jwks-file']) : undefined, jwksUrl: opts['jwks-url'],
      }, actor);
    }
    case 'client list': return listOAuthClients(admin, opts.clinic);
    case 'client disable': return setClientDisabled(admin, req(opts, 'client'), true, actor);
    case 'client enable': return setClientDisabled(admin, req(opts, 'client'), false, actor);
    case 'launch create': return createLaunch(admin, { clinicId: req(opts, 'clinic'), userId: req(opts, 'user'), patientId: opts.patient, clientId: opts.client });
    case 'key rotate': {
      const propagate = opts.propagate === undefined ? 120 : Number(opts.propagate);
      if (!Number.isInteger(propagate) || propagate < 0 || propagate > 86_400) throw new AdminError('--propagate must be 0 to 86400 seconds');
      return rotateSigningKey(admin, propagate, actor);
    }
    default: return undefined;
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
