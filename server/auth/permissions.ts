/**
 * The per-clinic role permission tree: a JSON object whose dotted keys (`clinical.patients.view`)
 * grant only when they resolve to boolean `true`. Anything else — strings, numbers, objects, a key
 * inherited from Object.prototype — is a refusal, so a sloppy edit can only take access away.
 */
import { RESOURCE_DEFINITIONS } from '../fhir/resources';
import type { FhirInteraction } from './authorize';

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

/** FHIR resource type -> permission module (`area.resource`), from each type's definition. */
export const RESOURCE_MODULES: Readonly<Record<string, string>> = Object.freeze({
  ...Object.fromEntries(RESOURCE_DEFINITIONS.map((d) => [d.type, d.permission])),
  // A Binary is a document's content: the same permissions guard both (upload = create, download = view).
  Binary: RESOURCE_DEFINITIONS.find((d) => d.type === 'DocumentReference')?.permission ?? 'clinical.documents',
});

// Actions each module knows: those its type's interactions need (the audit trail: view and search only).
const MODULE_ACTIONS: Readonly<Record<string, readonly PermissionAction[]>> = Object.freeze(Object.fromEntries(
  RESOURCE_DEFINITIONS.map((d) => [d.permission, CRUDS.filter((a) => d.interactions.some((i) => ACTION_OF[i] === a))]),
));

/** Every key a role can hold; the admin CLI and validatePermissionTree check against this list. */
export const PERMISSION_KEYS: readonly string[] = Object.freeze([
  ...Object.entries(MODULE_ACTIONS).flatMap(([module, actions]) => actions.map((a) => `${module}.${a}`)),
  'settings.roles.manage',
  'settings.users.manage',
  'settings.clients.manage',
  'clinical.breakGlass.request',
]);

const own = (o: object, k: string): boolean => Object.prototype.hasOwnProperty.call(o, k);

/** The key that guards `action` on `resourceType`, or null when the type or the action is not served. */
export function permissionKey(resourceType: string, action: PermissionAction): string | null {
  if (!own(RESOURCE_MODULES, resourceType)) return null;
  const module = RESOURCE_MODULES[resourceType];
  if (!MODULE_ACTIONS[module].includes(action)) return null;
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

// The tree's shape, derived from PERMISSION_KEYS: for each path prefix, the child names allowed.
const SHAPE: ReadonlyMap<string, ReadonlySet<string>> = (() => {
  const shape = new Map<string, Set<string>>();
  for (const key of PERMISSION_KEYS) {
    const parts = key.split('.');
    for (let i = 0; i < parts.length; i++) {
      const prefix = parts.slice(0, i).join('.');
      if (!shape.has(prefix)) shape.set(prefix, new Set());
      shape.get(prefix)!.add(parts[i]);
    }
  }
  return shape;
})();
const LEAVES: ReadonlySet<string> = new Set(PERMISSION_KEYS);

/**
 * Problems with a role's tree, for the admin CLI; [] when it is clean. Unknown keys are reported
 * because a typo (`clinical.patients.veiw`) would otherwise silently grant nothing.
 */
export function validatePermissionTree(tree: unknown): string[] {
  if (!isPlainObject(tree)) return ['permissions must be a JSON object'];
  const problems: string[] = [];
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

const all = (module: string): string[] => MODULE_ACTIONS[module].map((a) => `${module}.${a}`);
const only = (module: string, ...actions: PermissionAction[]): string[] => actions.map((a) => `${module}.${a}`);

// Every role looks people up in the staff directory; writing it is the clinic admin's job.
const DIRECTORY_READ = only('directory.practitioners', 'view', 'search');

/**
 * The seven roles every new clinic starts with (each clinic may edit its copies); migration 027
 * gave existing clinics' copies the directory keys.
 * Doctors do not delete prescriptions: one is stopped by a status update (cancelled /
 * entered-in-error) so the prescribing record survives; hard delete is left to clinic-admin.
 */
export const DEFAULT_ROLES: Readonly<Record<string, PermissionTree>> = Object.freeze({
  'clinic-admin': treeOf(PERMISSION_KEYS),
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
    ...DIRECTORY_READ,
  ]),
  'front-desk': treeOf([
    ...only('clinical.patients', 'view', 'search', 'create', 'update'),
    ...all('scheduling.appointments'),
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
  'compliance-officer': treeOf([...only('compliance.auditEvents', 'view', 'search'), ...DIRECTORY_READ]),
});
