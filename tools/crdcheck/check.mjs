// Validates Strimzi custom resources (kafka.strimzi.io) against the JSON Schemas of Strimzi's
// own CRDs, as @kubernetes-models/strimzi-kafka-operator ships them compiled (ajv validators
// generated from strimzi-crds-1.0.0.yaml for v1; the package's v1beta2 comes from 0.49.0, and
// Strimzi 1.0 no longer serves it).
//
//   node check.mjs < objects.json     a JSON array of objects
//
// Prints one line per problem, `Kind/name: path: message`, and exits 1 if there was any.
//
// Unknown fields: a CRD's schema lists each object's properties without `additionalProperties:
// false`; it is the API server that drops or (kubectl's default strict field validation)
// refuses a field the schema does not declare, unless the object preserves unknown fields.
// The compiled validators carry no schema to read that from, so we watch the validator: it looks
// up every property its schema declares on an object (present or not) and enumerates the keys
// of a map; a key of an object it looked into but never looked up is a field the schema does
// not know. An object it never looks into is free-form (`config`), where anything goes.

const PACKAGE = "@kubernetes-models/strimzi-kafka-operator";
// Strimzi 1.0 serves only v1 (0.49 to 0.51 serve v1 beside v1beta2).
const SERVED = { "kafka.strimzi.io": ["v1"] };

function watched(value, path, seen) {
  if (value === null || typeof value !== "object") return value;
  const entry = { path, value, read: new Set() };
  seen.push(entry);
  const children = new Map();
  const child = (key) => {
    if (!Object.hasOwn(value, key)) return value[key];
    if (!children.has(key)) {
      const at = Array.isArray(value) ? `${path}[${key}]` : path ? `${path}.${key}` : key;
      children.set(key, watched(value[key], at, seen));
    }
    return children.get(key);
  };
  return new Proxy(value, {
    get(target, key) {
      if (typeof key === "string") entry.read.add(key);
      return typeof key === "string" ? child(key) : target[key];
    },
    has(target, key) {
      if (typeof key === "string") entry.read.add(key);
      return key in target;
    },
    getOwnPropertyDescriptor(target, key) {
      if (typeof key === "string") entry.read.add(key);
      const descriptor = Reflect.getOwnPropertyDescriptor(target, key);
      return descriptor && { ...descriptor, value: child(key) };
    },
  });
}

function unknownFields(seen) {
  const found = [];
  for (const { path, value, read } of seen) {
    if (Array.isArray(value) || read.size === 0) continue;
    for (const key of Object.keys(value)) {
      if (!read.has(key)) {
        found.push(`${path ? `${path}.${key}` : key}: unknown field (not in the CRD's schema)`);
      }
    }
  }
  return found;
}

function jsonPath(instancePath) {
  return instancePath
    .split("/")
    .slice(1)
    .map((part) => part.replaceAll("~1", "/").replaceAll("~0", "~"))
    .reduce((out, part) => (/^\d+$/.test(part) ? `${out}[${part}]` : out ? `${out}.${part}` : part), "");
}

async function problems(doc) {
  const [group, version] = String(doc.apiVersion).split("/");
  if (!(SERVED[group] ?? []).includes(version)) {
    return [`apiVersion: ${doc.apiVersion} is not served (use ${group}/${SERVED[group]})`];
  }
  let model;
  try {
    model = (await import(`${PACKAGE}/${group}/${version}/${doc.kind}`))[doc.kind];
  } catch (err) {
    if (err.code !== "ERR_MODULE_NOT_FOUND") throw err;
    return [`kind: no ${doc.kind} in ${doc.apiVersion}`];
  }
  const seen = [];
  const found = [];
  try {
    model.prototype.validate.call(watched(doc, "", seen));
  } catch (err) {
    if (!err.errors) throw err;
    found.push(...err.errors.map((e) => `${jsonPath(e.instancePath) || "(object)"}: ${e.message}`));
  }
  return [...found, ...unknownFields(seen)];
}

const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
const docs = JSON.parse(Buffer.concat(chunks).toString("utf8"));
let failed = false;
for (const doc of docs) {
  const where = `${doc.kind}/${doc.metadata?.name}`;
  for (const problem of await problems(doc)) {
    failed = true;
    console.log(`${where}: ${problem}`);
  }
}
process.exit(failed ? 1 : 0);
