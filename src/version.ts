/** Kept in step with package.json (a test checks it). */
export const HOLDQ_VERSION = '0.1.0';
