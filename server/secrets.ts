// Generated secrets live beside the embedded cluster's under DATA_DIR; the db layer owns the helper.
export { persistentSecret } from '../db/secrets';
