/**
 * The part of oidc-provider 9 this server uses (the package ships no types). Kept narrow on purpose:
 * anything not declared here is not relied on.
 */
declare module 'oidc-provider' {
  import type { IncomingMessage, ServerResponse } from 'node:http';

  export type AdapterPayload = Record<string, unknown> & {
    jti?: string; kind?: string; exp?: number; iat?: number; grantId?: string; uid?: string; consumed?: unknown;
  };
  export interface Adapter {
    upsert(id: string, payload: AdapterPayload, expiresIn: number): Promise<void>;
    find(id: string): Promise<AdapterPayload | undefined>;
    findByUserCode(userCode: string): Promise<AdapterPayload | undefined>;
    findByUid(uid: string): Promise<AdapterPayload | undefined>;
    consume(id: string): Promise<void>;
    destroy(id: string): Promise<void>;
    revokeByGrantId(grantId: string): Promise<void>;
  }
  /** oidc-provider calls a non-constructable function once per model name. */
  export type AdapterFactory = (modelName: string) => Adapter;

  export interface ClientMetadata {
    client_id: string;
    client_name?: string;
    redirect_uris?: string[];
    grant_types?: string[];
    response_types?: string[];
    token_endpoint_auth_method?: string;
    token_endpoint_auth_signing_alg?: string;
    jwks?: { keys: Array<Record<string, unknown>> };
    jwks_uri?: string;
    scope?: string;
    [key: string]: unknown;
  }

  export interface Client {
    clientId: string;
    clientName?: string;
    scope?: string;
    redirectUris?: string[];
    grantTypes?: string[];
    clientAuthMethod: string;
    metadata(): ClientMetadata;
    grantTypeAllowed(grantType: string): boolean;
  }

  export interface BaseToken {
    jti: string;
    kind: string;
    exp: number;
    iat: number;
    accountId?: string;
    clientId: string;
    grantId?: string;
    scope?: string;
    aud?: string | string[];
    gty?: string;
    sid?: string;
    sessionUid?: string;
    expiresWithSession?: boolean;
    extra?: Record<string, unknown>;
    format?: string;
    readonly scopes: Set<string>;
    readonly isExpired: boolean;
    readonly remainingTTL: number;
  }

  export interface Grant {
    jti: string;
    accountId?: string;
    clientId?: string;
    addOIDCScope(scope: string): void;
    rejectOIDCScope(scope: string): void;
    rejectResourceScope(resource: string, scope: string): void;
    getOIDCScope(): string;
    addResourceScope(resource: string, scope: string): void;
    save(): Promise<string>;
  }
  export interface GrantConstructor {
    new (init: { accountId: string; clientId: string }): Grant;
    find(id: string): Promise<Grant | undefined>;
  }

  export interface Session {
    accountId?: string;
    loginTs?: number;
    uid: string;
    jti: string;
  }

  export interface Interaction {
    uid: string;
    prompt: { name: string; reasons: string[]; details: Record<string, unknown> };
    params: Record<string, unknown> & { client_id?: string; scope?: string; redirect_uri?: string; launch?: string };
    session?: { accountId: string; uid: string };
    grantId?: string;
    result?: InteractionResults;
    returnTo: string;
    lastSubmission?: InteractionResults;
  }

  export interface InteractionResults {
    login?: { accountId: string; amr?: string[]; acr?: string; remember?: boolean; ts?: number };
    consent?: { grantId?: string };
    error?: string;
    error_description?: string;
    [key: string]: unknown;
  }

  export interface OIDCContext {
    provider: Provider;
    result?: InteractionResults;
    route?: string;
    params?: Record<string, unknown>;
    client?: Client;
    session?: Session;
    entities: {
      AccessToken?: BaseToken;
      ClientCredentials?: BaseToken;
      RefreshToken?: BaseToken;
      RotatedRefreshToken?: BaseToken;
      AuthorizationCode?: BaseToken;
      Grant?: Grant;
      Session?: Session;
      Client?: Client;
      Account?: { accountId: string };
    };
    readonly requestParamScopes: Set<string>;
  }

  export interface KoaContext {
    oidc: OIDCContext;
    req: IncomingMessage;
    res: ServerResponse;
    method: string;
    path: string;
    ip: string;
    status: number;
    body: unknown;
    type: string;
    host: string;
    get(header: string): string;
    set(header: string, value: string): void;
    response: { get(header: string): string | string[] | undefined; set(header: string, value: string): void };
    state: Record<string, unknown>;
  }
  export type Middleware = (ctx: KoaContext, next: () => Promise<void>) => Promise<void>;

  export interface Account {
    accountId: string;
    claims(use: string, scope: string): Promise<Record<string, unknown>> | Record<string, unknown>;
  }

  export interface ResourceServerInfo {
    scope: string;
    audience?: string;
    accessTokenTTL?: number;
    accessTokenFormat?: 'opaque' | 'jwt';
    jwt?: { sign?: { alg: string; kid?: string } };
  }

  export type Configuration = Record<string, unknown>;

  export class Provider {
    constructor(issuer: string, configuration?: Configuration);
    readonly issuer: string;
    proxy: boolean;
    readonly request: object;
    readonly Grant: GrantConstructor;
    callback(): (req: IncomingMessage, res: ServerResponse) => void;
    use(middleware: Middleware): this;
    on(event: string, listener: (...args: never[]) => void): this;
    interactionDetails(req: IncomingMessage, res: ServerResponse): Promise<Interaction>;
    interactionResult(req: IncomingMessage, res: ServerResponse, result: InteractionResults, options?: { mergeWithLastSubmission?: boolean }): Promise<string>;
    interactionFinished(req: IncomingMessage, res: ServerResponse, result: InteractionResults, options?: { mergeWithLastSubmission?: boolean }): Promise<void>;
  }

  export class OIDCProviderError extends Error {
    constructor(status: number, message: string);
    error: string;
    error_description?: string;
    error_detail?: string;
    /** InvalidScope: the scopes refused. */
    scope?: string;
    status: number;
    statusCode: number;
    expose: boolean;
  }
  /** Classes taking an error_description. */
  type Described = new (description?: string) => OIDCProviderError;
  /** Classes with a fixed description, taking only a detail (logged, never sent). */
  type Detailed = new (detail?: string) => OIDCProviderError;
  export const errors: {
    OIDCProviderError: typeof OIDCProviderError;
    InvalidScope: new (description: string, scope?: string) => OIDCProviderError;
    InvalidRequest: Described;
    InvalidClientAuth: Detailed;
    InvalidGrant: Detailed;
    InvalidTarget: Described;
    UnauthorizedClient: Described;
    AccessDenied: Described;
    InvalidClient: Described;
  };
  export default Provider;
}
