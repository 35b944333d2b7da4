// Generates the typed example client's types (examples/typed-client/src/generated) with
// GraphQL Code Generator, from schema.graphql or, with --schema URL, from a live endpoint.
// --check compares with the committed file instead of writing it.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
const { generate } = require('@graphql-codegen/cli');

export const example = resolve(dirname(fileURLToPath(import.meta.url)), '../examples/typed-client');

/** The generated files as `{ path: content }`, from `schema` (a path or URL). */
export async function generated(schema = undefined) {
  const config = JSON.parse(readFileSync(join(example, 'codegen.json'), 'utf8'));
  const outputs = Object.fromEntries(
    Object.entries(config.generates).map(([path, output]) => [join(example, path), output]),
  );
  const files = await generate(
    {
      ...config,
      schema: schema ?? join(example, config.schema),
      documents: join(example, config.documents),
      generates: outputs,
      silent: true,
    },
    false,
  );
  return Object.fromEntries(files.map((file) => [file.filename, file.content]));
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const schemaAt = process.argv.indexOf('--schema');
  const files = await generated(schemaAt > 0 ? process.argv[schemaAt + 1] : undefined);
  for (const [path, content] of Object.entries(files)) {
    if (process.argv.includes('--check')) {
      if (readFileSync(path, 'utf8') !== content) {
        console.error(`${path} is out of date: run npm run codegen in examples/typed-client`);
        process.exit(1);
      }
    } else {
      mkdirSync(dirname(path), { recursive: true });
      writeFileSync(path, content);
      console.log('wrote', path);
    }
  }
}
