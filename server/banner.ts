import type { Config } from './config';

/**
 * The start-up banner: commands a newcomer can paste as they are. The admin CLI reads its settings
 * from the environment, so every setting the server was started with that the CLI's work depends on
 * (where the database is, what its tokens must say) is exported on a line before the commands.
 */

/** Settings the admin CLI needs to reach the same database and mint tokens this server accepts. */
const CLI_SETTINGS = ['EMBEDDED_PG_PORT', 'BASE_URL', 'TOKEN_ISSUER', 'TOKEN_AUDIENCE', 'CLINIC_CLAIM', 'MAX_TOKEN_LIFETIME'] as const;

const shellQuote = (v: string): string => (/^[A-Za-z0-9_@%+=:,./-]+$/.test(v) ? v : `'${v.replace(/'/g, `'\\''`)}'`);

/** `NAME=value ...` for the settings the server got from its environment (empty with the defaults). */
export function cliEnvPrefix(cfg: Config, env: Record<string, string | undefined>): string {
  const parts: string[] = [];
  // Absolute, so the command works from any directory; the default (./.data) is relative to the checkout.
  if (env.DATA_DIR) parts.push(`DATA_DIR=${shellQuote(cfg.dataDir)}`);
  // Never print the database password: the command refers to the variable the operator set.
  if (env.DATABASE_URL) parts.push('DATABASE_URL="$DATABASE_URL"');
  for (const name of CLI_SETTINGS) if (env[name]) parts.push(`${name}=${shellQuote(String(env[name]))}`);
  return parts.length ? `${parts.join(' ')} ` : '';
}

export function welcomeText(cfg: Config, env: Record<string, string | undefined>, o: { admin: string; ms: number; fhirBaseUrl: string }): string {
  const prefix = cliEnvPrefix(cfg, env).trim();
  // One export line rather than a prefix on each command: the commands stay short and the same as in the README.
  const exportLine = prefix ? `  export ${prefix}\n` : '';
  const note = env.DATABASE_URL ? ' (in a shell where DATABASE_URL is set as for the server)' : '';
  return `
FHIR R4 server ready at ${o.fhirBaseUrl} (started in ${o.ms} ms; data in ${cfg.dataDir})

Get a token (works while the server runs, from this directory${note}):
${exportLine}  CLINIC=$(${o.admin} clinic create --name "North Clinic" | node -pe 'JSON.parse(require("fs").readFileSync(0)).id')
  USER=$(${o.admin} user create --clinic $CLINIC --email doctor@north.example --role doctor | node -pe 'JSON.parse(require("fs").readFileSync(0)).id')
  TOKEN=$(${o.admin} token --clinic $CLINIC --user $USER --scope "user/*.cruds")
  curl -H "Authorization: Bearer $TOKEN" ${o.fhirBaseUrl}/Patient

`;
}
