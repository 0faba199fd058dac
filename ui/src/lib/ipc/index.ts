export type * from './bindings';
export type { Backend, Unsubscribe } from './backend';
export { TauriBackend } from './backend';
export { BackendError, toBackendError, ERROR_KINDS } from './errors';
