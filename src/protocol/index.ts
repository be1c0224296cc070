// Job Protocol v1: schemas, validation, parsing, builder, error codes.
export * from './errors.js';
export * from './schema.js';
export * from './validate.js';
export * from './parse.js';
export * from './builder.js';
