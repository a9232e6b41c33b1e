// zod schemas → OpenAPI 3.1 `components.schemas`, with zod 4's own converter (z.toJSONSchema, JSON Schema
// 2020-12, the dialect OpenAPI 3.1 uses). Schemas registered under a name become components, and every
// other schema that uses them gets a `$ref` instead of a copy.
import { z } from 'zod';

export type JsonSchema = Record<string, unknown>;
export type Components = Record<string, JsonSchema>;

/** A set of schemas to name in the document: `add(schema, { id })`. */
export type SchemaRegistry = z.core.$ZodRegistry<{ id: string }>;
export const schemaRegistry = (): SchemaRegistry => z.registry<{ id: string }>();

export const COMPONENTS = '#/components/schemas/';
export const ref = (name: string): { $ref: string } => ({ $ref: `${COMPONENTS}${name}` });

/**
 * Converts one schema or a registry. `io: 'input'` describes what a request may send (the input side of
 * transforms and pipes, defaults optional); `'output'` what a response holds. What JSON Schema cannot say
 * (a refinement, a z.custom) is left open rather than failing the document: the API still checks it.
 */
const options = (io: 'input' | 'output') =>
  ({ io, target: 'draft-2020-12', unrepresentable: 'any', uri: (id: string) => `${COMPONENTS}${id}` }) as const;

export function toJsonSchema(schema: z.ZodType, io: 'input' | 'output'): JsonSchema {
  return tidy(z.toJSONSchema(schema, options(io)) as JsonSchema) as JsonSchema;
}

export function componentsOf(registry: SchemaRegistry, io: 'input' | 'output'): Components {
  const { schemas } = z.toJSONSchema(registry, options(io)) as { schemas: Record<string, JsonSchema> };
  const components: Components = {};
  // Schemas zod had to share without a name of ours (a recursive one, or one named by `.meta({ id })`
  // elsewhere) arrive as `__shared.$defs`; they become components of their own.
  const { __shared: shared, ...named } = schemas;
  for (const [name, schema] of [...Object.entries(named), ...Object.entries((shared?.$defs ?? {}) as Components)]) {
    if (name in components) throw new Error(`OpenAPI: two schemas are named ${name}`);
    components[name] = tidy(schema) as JsonSchema;
  }
  return components;
}

/** Merges component sets; the same name twice must mean the same schema. */
export function mergeComponents(...sets: Components[]): Components {
  const merged: Components = {};
  for (const set of sets) {
    for (const [name, schema] of Object.entries(set)) {
      if (name in merged && JSON.stringify(merged[name]) !== JSON.stringify(schema)) throw new Error(`OpenAPI: two different schemas are named ${name}`);
      merged[name] = schema;
    }
  }
  return merged;
}

const SHARED_REF = new RegExp(`^${COMPONENTS}__shared#/\\$defs/`);
/** Keywords whose value is data (kept as it is), and those whose value maps names to schemas. */
const DATA_KEYWORDS = new Set(['enum', 'const', 'default', 'examples', 'example', 'required']);
const SCHEMA_MAPS = new Set(['properties', 'patternProperties', '$defs', 'dependentSchemas']);

/**
 * Drops what does not belong inside an OpenAPI document (`$schema`, zod's `$id`), points `__shared`
 * references at their components, and leaves out the ±2^53 bounds zod writes for every integer.
 */
function tidy(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(tidy);
  if (schema === null || typeof schema !== 'object') return schema;
  const out: Record<string, unknown> = {};
  for (const [key, inner] of Object.entries(schema)) {
    if (key === '$schema' || key === '$id') continue;
    if ((key === 'maximum' || key === 'minimum') && Math.abs(inner as number) === Number.MAX_SAFE_INTEGER) continue;
    if (key === '$ref' && typeof inner === 'string') out[key] = inner.replace(SHARED_REF, COMPONENTS);
    else if (DATA_KEYWORDS.has(key)) out[key] = inner;
    else if (SCHEMA_MAPS.has(key) && inner !== null && typeof inner === 'object') {
      out[key] = Object.fromEntries(Object.entries(inner).map(([name, sub]) => [name, tidy(sub)]));
    } else out[key] = tidy(inner);
  }
  return out;
}
