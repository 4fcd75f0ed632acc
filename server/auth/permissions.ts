/**
 * The per-clinic role permission tree: a JSON object whose dotted keys (`clinical.patients.view`)
 * grant only when they resolve to boolean `true`. Anything else — strings, numbers, objects, a key
 * inherited from Object.prototype — is a refusal, so a sloppy edit can only take access away.
 */

/** The FHIR REST interactions a permission can be asked for. */
export type FhirInteraction =
  | 'read'
  | 'vread'
  | 'history-instance'
  | 'history-type'
  | 'search'
  | 'create'
  | 'update'
  | 'patch'
  | 'delete';

export type PermissionAction = 'view' | 'search' | 'create' | 'update' | 'delete';
export type PermissionTree = { [key: string]: PermissionTree | boolean | unknown };

const CRUDS: readonly PermissionAction[] = ['view', 'search', 'create', 'update', 'delete'];

/** The permission action each FHIR interaction needs. */
export const ACTION_OF: Readonly<Record<FhirInteraction, PermissionAction>> = Object.freeze({
  read: 'view',
  vread: 'view',
  'history-instance': 'view',
  'history-type': 'search',
  search: 'search',
  create: 'create',
  update: 'update',
  patch: 'update',
  delete: 'delete',
});

/** What a served resource type tells the permission tree: its module and the interactions it serves. */
export interface ServedType { type: string; permission: string; interactions: readonly FhirInteraction[] }

const SPECIAL_KEYS = [
  'settings.roles.manage', 'settings.users.manage', 'settings.clients.manage', 'settings.clinic.manage',
  'clinical.breakGlass.request', 'clinical.careTeam.manage', 'compliance.breakGlass.review', 'compliance.auditEvents.verify',
];

interface Derived {
  /** FHIR resource type -> permission module (`area.resource`). */
  modules: Readonly<Record<string, string>>;
  /** Actions each module knows: those its type's interactions need (the audit trail: view and search only). */
  actions: Readonly<Record<string, readonly PermissionAction[]>>;
  keys: readonly string[];
  shape: ReadonlyMap<string, ReadonlySet<string>>;
  leaves: ReadonlySet<string>;
  roles: Readonly<Record<string, PermissionTree>>;
}

let served: readonly ServedType[] = [];
let derived: Derived | undefined;

/**
 * The resource types the server serves, declared by their definitions (server/fhir/resources,
 * the one place a type lives), which call this when loaded: auth never imports the FHIR layer.
 */
export function servePermissionModules(types: readonly ServedType[]): void {
  served = types;
  derived = undefined;
}

function derivedTree(): Derived {
  if (derived) return derived;
  if (!served.length) throw new Error('no resource type is served: load server/fhir/resources before asking for permissions');
  const modules: Record<string, string> = Object.fromEntries(served.map((d) => [d.type, d.permission]));
  // A Binary is a document's content: the same permissions guard both (upload = create, download = view).
  modules.Binary = modules.DocumentReference ?? 'clinical.documents';
  const actions = Object.fromEntries(served.map((d) => [d.permission, CRUDS.filter((a) => d.interactions.some((i) => ACTION_OF[i] === a))]));
  const keys = Object.freeze([...Object.entries(actions).flatMap(([module, acts]) => acts.map((a) => `${module}.${a}`)), ...SPECIAL_KEYS]);
  const shape = new Map<string, Set<string>>();
  for (const key of keys) {
    const parts = key.split('.');
    for (let i = 0; i < parts.length; i++) {
      const prefix = parts.slice(0, i).join('.');
      if (!shape.has(prefix)) shape.set(prefix, new Set());
      shape.get(prefix)!.add(parts[i]);
    }
  }
  derived = { modules: Object.freeze(modules), actions: Object.freeze(actions), keys, shape, leaves: new Set(keys), roles: defaultRolesOf(keys, actions) };
  return derived;
}

/** FHIR resource type -> permission module, for every served type and Binary. */
export const resourceModules = (): Readonly<Record<string, string>> => derivedTree().modules;

/** Every key a role can hold; the admin CLI and validatePermissionTree check against this list. */
export const permissionKeys = (): readonly string[] => derivedTree().keys;

/** The roles every new clinic starts with (see defaultRolesOf). */
export const defaultRoles = (): Readonly<Record<string, PermissionTree>> => derivedTree().roles;

const own = (o: object, k: string): boolean => Object.prototype.hasOwnProperty.call(o, k);

/** The key that guards `action` on `resourceType`, or null when the type or the action is not served. */
export function permissionKey(resourceType: string, action: PermissionAction): string | null {
  const { modules, actions } = derivedTree();
  if (!own(modules, resourceType)) return null;
  const module = modules[resourceType];
  if (!actions[module].includes(action)) return null;
  return `${module}.${action}`;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

// JSON.parse makes `__proto__` an own key; no real permission is named like this, so refuse them.
const PROTOTYPE_NAMES: ReadonlySet<string> = new Set(['__proto__', 'constructor', 'prototype']);

/** True only if walking the dotted `key` through own properties ends on boolean `true`. */
export function grants(tree: unknown, key: string): boolean {
  if (typeof key !== 'string' || key === '') return false;
  let node: unknown = tree;
  for (const segment of key.split('.')) {
    if (segment === '' || PROTOTYPE_NAMES.has(segment)) return false;
    if (!isPlainObject(node) || !own(node, segment)) return false;
    node = node[segment];
  }
  return node === true;
}

/**
 * Problems with a role's tree, for the admin CLI; [] when it is clean. Unknown keys are reported
 * because a typo (`clinical.patients.veiw`) would otherwise silently grant nothing.
 */
export function validatePermissionTree(tree: unknown): string[] {
  if (!isPlainObject(tree)) return ['permissions must be a JSON object'];
  const problems: string[] = [];
  const { shape: SHAPE, leaves: LEAVES } = derivedTree();
  const walk = (node: Record<string, unknown>, prefix: string): void => {
    const allowed = SHAPE.get(prefix) ?? new Set<string>();
    for (const name of Object.keys(node)) {
      const path = prefix === '' ? name : `${prefix}.${name}`;
      const value = node[name];
      if (!allowed.has(name)) {
        problems.push(prefix === '' ? `unknown module '${name}'` : `unknown permission '${path}'`);
      } else if (LEAVES.has(path)) {
        if (typeof value !== 'boolean') problems.push(`'${path}' must be true or false, got ${describe(value)}`);
      } else if (!isPlainObject(value)) {
        problems.push(`'${path}' must be an object, got ${describe(value)}`);
      } else {
        walk(value, path);
      }
    }
  };
  walk(tree, '');
  return problems;
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  return Array.isArray(v) ? 'array' : typeof v;
}

/** Builds a frozen tree holding `true` at each key. */
function treeOf(keys: readonly string[]): PermissionTree {
  const root: Record<string, unknown> = {};
  for (const key of keys) {
    const parts = key.split('.');
    let node = root;
    for (const part of parts.slice(0, -1)) {
      if (!isPlainObject(node[part])) node[part] = {};
      node = node[part] as Record<string, unknown>;
    }
    node[parts[parts.length - 1]] = true;
  }
  return deepFreeze(root);
}

function deepFreeze<T extends Record<string, unknown>>(o: T): T {
  for (const v of Object.values(o)) if (isPlainObject(v)) deepFreeze(v);
  return Object.freeze(o);
}

/**
 * The seven roles every new clinic starts with (each clinic may edit its copies); migration 027
 * gave existing clinics' copies the directory keys.
 * Doctors do not delete prescriptions: one is stopped by a status update (cancelled /
 * entered-in-error) so the prescribing record survives; hard delete is left to clinic-admin.
 */
function defaultRolesOf(keys: readonly string[], actions: Readonly<Record<string, readonly PermissionAction[]>>): Readonly<Record<string, PermissionTree>> {
  const all = (module: string): string[] => (actions[module] ?? []).map((a) => `${module}.${a}`);
  const only = (module: string, ...acts: PermissionAction[]): string[] => acts.map((a) => `${module}.${a}`);
  // Every role looks people up in the staff directory; writing it is the clinic admin's job.
  const DIRECTORY_READ = only('directory.practitioners', 'view', 'search');
  return Object.freeze({
    'clinic-admin': treeOf(keys),
    doctor: treeOf([
      ...all('clinical.patients'),
      ...all('scheduling.appointments'),
      ...only('clinical.prescriptions', 'view', 'search', 'create', 'update'),
      ...all('clinical.documents'),
      'clinical.breakGlass.request',
      ...DIRECTORY_READ,
    ]),
    nurse: treeOf([
      ...only('clinical.patients', 'view', 'search', 'update'),
      ...all('scheduling.appointments'),
      ...only('clinical.prescriptions', 'view', 'search'),
      ...only('clinical.documents', 'view', 'search', 'create'),
      'clinical.breakGlass.request',
      ...DIRECTORY_READ,
    ]),
    'front-desk': treeOf([
      ...only('clinical.patients', 'view', 'search', 'create', 'update'),
      ...all('scheduling.appointments'),
      'clinical.careTeam.manage',
      ...DIRECTORY_READ,
    ]),
    billing: treeOf([
      ...only('clinical.patients', 'view', 'search'),
      ...only('scheduling.appointments', 'view', 'search'),
      ...DIRECTORY_READ,
    ]),
    pharmacist: treeOf([
      ...only('clinical.patients', 'view', 'search'),
      ...only('clinical.prescriptions', 'view', 'search', 'update'),
      ...only('scheduling.appointments', 'view', 'search'),
      ...DIRECTORY_READ,
    ]),
    'compliance-officer': treeOf([...only('compliance.auditEvents', 'view', 'search'), 'compliance.auditEvents.verify', 'compliance.breakGlass.review', ...DIRECTORY_READ]),
  });
}
