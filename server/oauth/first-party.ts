import type { Config } from '../config';

/** The compliance console (server/console): built in, registered by the server itself, never in oauth_client. */
export const CONSOLE_CLIENT_ID = '0c0501e0-0000-4000-8000-000000000001';
export const CONSOLE_SCOPE = 'openid fhirUser user/AuditEvent.rs';
export const consoleRedirectUri = (cfg: Pick<Config, 'baseUrl'>): string => `${cfg.baseUrl}/console/callback`;

export const isFirstParty = (clientId: string): boolean => clientId === CONSOLE_CLIENT_ID;
