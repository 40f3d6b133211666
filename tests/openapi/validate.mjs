// Validate the controller's OpenAPI document with a real validator
// (@apidevtools/swagger-parser, pinned by package-lock.json): the OpenAPI
// 3.1 schema, $refs resolved, then the parser's own checks.  Deliberately
// broken copies must be refused too, so a validator that accepts anything
// fails this test.
//   node validate.mjs path/to/openapi.json
import fs from 'node:fs';
import SwaggerParser from '@apidevtools/swagger-parser';

const file = process.argv[2];
const text = fs.readFileSync(file, 'utf8');
let fails = 0;
const ok = (d) => console.log(`ok   - ${d}`);
const bad = (d) => { fails++; console.log(`FAIL - ${d}`); };

async function validate(doc) {
  try {
    const api = await SwaggerParser.validate(structuredClone(doc));
    return { api };
  } catch (e) {
    return { err: e.message.split('\n').slice(0, 4).join(' | ') };
  }
}

const doc = JSON.parse(text);
const r = await validate(doc);
if (r.err) bad(`${file}: ${r.err}`);
else ok(`${file}: valid OpenAPI ${r.api.openapi}, ${Object.keys(r.api.paths).length} paths, ` +
  `${Object.values(r.api.paths).reduce((n, p) => n + Object.keys(p).length, 0)} operations`);
if (doc.openapi !== '3.1.0') bad(`openapi is ${doc.openapi}, want 3.1.0`);

// The validator refuses broken documents (it is not a no-op).
const broken = [
  ['info without a title', (d) => { delete d.info.title; }],
  ['a response code that is no status', (d) => { d.paths['/v1/networks'].get.responses.twohundred = d.paths['/v1/networks'].get.responses['200']; }],
  ['a $ref to a missing schema', (d) => { d.paths['/v1/networks'].post.requestBody.content['application/json'].schema = { $ref: '#/components/schemas/Nope' }; }],
  ['a request body without content', (d) => { delete d.paths['/v1/networks'].post.requestBody.content; }],
  ['a parameter in an unknown place', (d) => { d.paths['/v1/networks/{ref}'].get.parameters[0].in = 'body'; }],
  ['an unknown security scheme type', (d) => { d.components.securitySchemes.adminKey.type = 'password'; }],
];
for (const [what, change] of broken) {
  const copy = structuredClone(doc);
  change(copy);
  const b = await validate(copy);
  if (b.err) ok(`refused: ${what} (${b.err.slice(0, 120)})`);
  else bad(`accepted: ${what}`);
}
console.log(fails ? `${fails} failed` : 'all passed');
process.exit(fails ? 1 : 0);
