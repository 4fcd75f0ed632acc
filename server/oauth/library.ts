/**
 * Loads oidc-provider (an ES module, through Node's require(esm)). Version 9 prints a notice on
 * every load under Node 20, the project's supported runtime on which it works: that one notice is
 * filtered while loading, nothing else.
 */
function load(): typeof import('oidc-provider') {
  const warn = console.warn;
  console.warn = (...args: unknown[]) => {
    if (!String(args[0]).includes('Unsupported runtime')) warn(...args);
  };
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return require('oidc-provider') as typeof import('oidc-provider');
  } finally {
    console.warn = warn;
  }
}

const lib = load();
export const ProviderClass = lib.Provider;
export const errors = lib.errors;
