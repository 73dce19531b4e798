//! Schema-driven fuzzing: operations generated from the live schema's introspection, with
//! arguments of the right and of the wrong shape, sent as anonymous, customer and staff callers.
//! Every answer must be a well-formed GraphQL response without an `INTERNAL` error or a 5xx,
//! and the server must still answer afterwards. Bounded: `AETERNUM_FUZZ_CASES` operations
//! (default 1,500 per store) from `AETERNUM_FUZZ_SEED` (default fixed, so a failure reproduces).

use std::collections::HashMap;

use entity::Role;
use serde_json::{Value, json};

use crate::helpers::{Credential, Store, TestApp};

store_tests!(generated_operations_never_fail_internally);

const TYPES: &str = "{ __schema { queryType { name } mutationType { name } types { name kind
  fields { name args { name type { ...T } } type { ...T } }
  inputFields { name type { ...T } } enumValues { name } } } }
fragment T on __Type { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name } } } } }";

/// A small, fast, reproducible generator (xorshift64*).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
}

struct Schema {
    types: HashMap<String, Value>,
    /// Real IDs of the demo catalog, so generated operations reach past ID parsing.
    ids: Vec<String>,
}

/// The named type under `NON_NULL` / `LIST` wrappers, and whether it is a list.
fn unwrap(ty: &Value) -> (&str, bool) {
    let mut ty = ty;
    let mut list = false;
    while ty["name"].is_null() {
        list |= ty["kind"] == "LIST";
        ty = &ty["ofType"];
    }
    (ty["name"].as_str().unwrap_or_default(), list)
}

const STRINGS: [&str; 12] = [
    "",
    "a",
    "silk",
    "'; DROP TABLE products; --",
    "\u{0}\u{1}",
    "\"quoted\" \\ back",
    "😀 unicode ünïcödé",
    "-1",
    "99999999999999999999",
    "UHJvZHVjdDowMTkzZjQ1Ni0wMDAwLTcwMDAtODAwMC0wMDAwMDAwMDAwMDA",
    "2026-13-45T99:99:99Z",
    "%s%n%x",
];

impl Schema {
    fn value(&self, rng: &mut Rng, ty: &Value, depth: usize) -> Value {
        let (name, list) = unwrap(ty);
        if list && rng.chance(85) {
            let n = rng.below(4);
            return Value::Array((0..n).map(|_| self.scalar_or_input(rng, name, depth)).collect());
        }
        self.scalar_or_input(rng, name, depth)
    }

    fn scalar_or_input(&self, rng: &mut Rng, name: &str, depth: usize) -> Value {
        if rng.chance(4) {
            // The wrong shape on purpose.
            return [json!(null), json!(1.5), json!("x"), json!([]), json!({})][rng.below(5)].clone();
        }
        match name {
            "Int" => json!([0, 1, -1, 100, 101, i32::MAX, i32::MIN, 24][rng.below(8)]),
            "Float" => json!([0.0, -1.5, 1e300][rng.below(3)]),
            "Boolean" => json!(rng.chance(50)),
            "ID" if !self.ids.is_empty() && rng.chance(70) => json!(self.ids[rng.below(self.ids.len())]),
            "String" | "ID" | "DateTime" | "UUID" | "Decimal" => json!(STRINGS[rng.below(STRINGS.len())]),
            _ => match self.types.get(name) {
                Some(t) if t["kind"] == "ENUM" => {
                    let values = t["enumValues"].as_array().cloned().unwrap_or_default();
                    values.get(rng.below(values.len())).map(|v| v["name"].clone()).unwrap_or(Value::Null)
                }
                Some(t) if t["kind"] == "INPUT_OBJECT" && depth < 4 => {
                    let mut object = serde_json::Map::new();
                    for field in t["inputFields"].as_array().into_iter().flatten() {
                        let required = field["type"]["kind"] == "NON_NULL";
                        if required || rng.chance(40) {
                            object.insert(
                                field["name"].as_str().unwrap_or_default().to_owned(),
                                self.value(rng, &field["type"], depth + 1),
                            );
                        }
                    }
                    Value::Object(object)
                }
                _ => json!(STRINGS[rng.below(STRINGS.len())]),
            },
        }
    }

    /// A selection set on an object type, at most `depth` levels deeper.
    fn selection(
        &self,
        rng: &mut Rng,
        type_name: &str,
        depth: usize,
        variables: &mut serde_json::Map<String, Value>,
    ) -> String {
        let Some(ty) = self.types.get(type_name) else { return String::new() };
        match ty["kind"].as_str() {
            Some("OBJECT") => {}
            Some("INTERFACE" | "UNION") => return "{ __typename }".to_owned(),
            _ => return String::new(),
        }
        let fields = ty["fields"].as_array().cloned().unwrap_or_default();
        let mut picked = Vec::new();
        for _ in 0..(1 + rng.below(3)) {
            let field = &fields[rng.below(fields.len())];
            let (inner, _) = unwrap(&field["type"]);
            let inner_kind = self.types.get(inner).map(|t| t["kind"].as_str().unwrap_or_default().to_owned());
            let composite = matches!(inner_kind.as_deref(), Some("OBJECT" | "INTERFACE" | "UNION"));
            if composite && depth == 0 {
                continue;
            }
            let args = self.arguments(rng, field, variables);
            let sub = if composite { self.selection(rng, inner, depth - 1, variables) } else { String::new() };
            if composite && sub.is_empty() {
                continue;
            }
            picked.push(format!("{}{args} {sub}", field["name"].as_str().unwrap_or_default()));
        }
        if picked.is_empty() {
            picked.push("__typename".to_owned());
        }
        format!("{{ {} }}", picked.join(" "))
    }

    fn arguments(&self, rng: &mut Rng, field: &Value, variables: &mut serde_json::Map<String, Value>) -> String {
        let mut args = Vec::new();
        for arg in field["args"].as_array().into_iter().flatten() {
            let required = arg["type"]["kind"] == "NON_NULL";
            if required || rng.chance(50) {
                let name = format!("v{}", variables.len());
                variables.insert(name.clone(), self.value(rng, &arg["type"], 0));
                args.push((arg["name"].as_str().unwrap_or_default().to_owned(), name, type_string(&arg["type"])));
            }
        }
        if args.is_empty() {
            return String::new();
        }
        let rendered: Vec<String> = args.iter().map(|(arg, var, _)| format!("{arg}: ${var}")).collect();
        for (_, var, ty) in &args {
            variables.insert(format!("__type_{var}"), json!(ty));
        }
        format!("({})", rendered.join(", "))
    }
}

/// The type as written in a variable definition, such as `[ID!]!`.
fn type_string(ty: &Value) -> String {
    match ty["kind"].as_str() {
        Some("NON_NULL") => format!("{}!", type_string(&ty["ofType"])),
        Some("LIST") => format!("[{}]", type_string(&ty["ofType"])),
        _ => ty["name"].as_str().unwrap_or_default().to_owned(),
    }
}

/// Turns the generated selection and variables into a request body.
fn request(kind: &str, selection: String, mut variables: serde_json::Map<String, Value>) -> Value {
    let types: Vec<(String, String)> = variables
        .iter()
        .filter_map(|(k, v)| {
            k.strip_prefix("__type_").map(|var| (var.to_owned(), v.as_str().unwrap_or_default().to_owned()))
        })
        .collect();
    variables.retain(|k, _| !k.starts_with("__type_"));
    let definitions: Vec<String> = types.iter().map(|(var, ty)| format!("${var}: {ty}")).collect();
    let header = if definitions.is_empty() { String::new() } else { format!("({})", definitions.join(", ")) };
    json!({ "query": format!("{kind} Fuzz{header} {selection}"), "variables": variables })
}

async fn generated_operations_never_fail_internally(store: Store) {
    let app = TestApp::spawn(store).await;
    app.load_demo().await;
    let password = "fuzzing-passphrase-2026";
    for (email, role) in [("fuzz-customer@example.com", Role::Customer), ("fuzz-staff@example.com", Role::Staff)] {
        aeternum::identity::service::create_user(&app.db, email, password, "Fuzz", role, None).await.unwrap();
    }
    let callers = [
        Credential::Anonymous,
        Credential::Bearer(app.sign_in("fuzz-customer@example.com", password).await.0),
        Credential::Bearer(app.sign_in("fuzz-staff@example.com", password).await.0),
    ];
    let introspection = app.data(TYPES, json!({})).await;
    let types: HashMap<String, Value> = introspection["__schema"]["types"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| (t["name"].as_str().unwrap().to_owned(), t.clone()))
        .collect();
    let catalog =
        app.data("{ products(first: 8) { edges { node { id vendor { id } category { id } } } } }", json!({})).await;
    let mut ids = Vec::new();
    for edge in catalog["products"]["edges"].as_array().unwrap() {
        for id in [&edge["node"]["id"], &edge["node"]["vendor"]["id"], &edge["node"]["category"]["id"]] {
            ids.push(id.as_str().unwrap().to_owned());
        }
    }
    let schema = Schema { types, ids };
    let cases: usize = std::env::var("AETERNUM_FUZZ_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(1_500);
    let seed: u64 = std::env::var("AETERNUM_FUZZ_SEED").ok().and_then(|v| v.parse().ok()).unwrap_or(0x5EED_2026);
    let mut rng = Rng(seed | 1);
    let mut failures = Vec::new();
    for case in 0..cases {
        let (kind, root) = if rng.chance(70) { ("query", "Query") } else { ("mutation", "Mutation") };
        let mut variables = serde_json::Map::new();
        let selection = schema.selection(&mut rng, root, 3, &mut variables);
        let body = request(kind, selection, variables);
        let credential = &callers[rng.below(callers.len())];
        let mut http = app.client.post(format!("{}/graphql", app.address)).json(&body);
        if let Credential::Bearer(token) = credential {
            http = http.bearer_auth(token);
        }
        let response = http.send().await.expect("the server answers");
        let status = response.status();
        let answer: Value = response.json().await.unwrap_or(Value::Null);
        let internal = answer["errors"]
            .as_array()
            .is_some_and(|errors| errors.iter().any(|e| e["extensions"]["code"] == "INTERNAL"));
        if status.is_server_error() || internal || answer.is_null() {
            failures.push(format!("case {case} (seed {seed}): {status} {body} -> {answer}"));
        }
    }
    assert!(failures.is_empty(), "{} of {cases} operations failed:\n{}", failures.len(), failures.join("\n"));
    assert_eq!(app.data("{ __typename }", json!({})).await["__typename"], "Query", "the server is still up");
}
