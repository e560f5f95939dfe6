//! The client side of `org.atomic.Manager`: the generated proxy, and the reading of its `a{sv}`
//! answers as JSON for printing.

use std::collections::HashMap;

use zbus::zvariant::{OwnedValue, Value};

/// `org.atomic.Manager` as seen by clients. Every guarded method allows interactive
/// authorization, so polkit can ask for a password when an agent runs.
#[zbus::proxy(
    interface = "org.atomic.Manager",
    default_service = "org.atomic",
    default_path = "/org/atomic/Manager",
    gen_blocking = false
)]
pub trait Manager {
    /// Run
    #[zbus(allow_interactive_auth)]
    fn run(
        &self,
        image: &str,
        command: &[String],
        options: HashMap<&str, Value<'_>>,
    ) -> zbus::Result<HashMap<String, OwnedValue>>;

    /// Install
    #[zbus(allow_interactive_auth)]
    fn install(
        &self,
        image: &str,
        options: HashMap<&str, Value<'_>>,
    ) -> zbus::Result<HashMap<String, OwnedValue>>;

    /// Uninstall
    #[zbus(allow_interactive_auth)]
    fn uninstall(
        &self,
        image: &str,
        options: HashMap<&str, Value<'_>>,
    ) -> zbus::Result<HashMap<String, OwnedValue>>;

    /// HostUpgrade
    #[zbus(allow_interactive_auth)]
    fn host_upgrade(&self, options: HashMap<&str, Value<'_>>) -> zbus::Result<HashMap<String, OwnedValue>>;

    /// Rollback
    #[zbus(allow_interactive_auth)]
    fn rollback(&self, options: HashMap<&str, Value<'_>>) -> zbus::Result<HashMap<String, OwnedValue>>;

    /// Status
    fn status(&self) -> zbus::Result<HashMap<String, OwnedValue>>;

    /// Version
    #[zbus(property)]
    fn version(&self) -> zbus::Result<String>;

    /// EngineAvailable
    #[zbus(property)]
    fn engine_available(&self) -> zbus::Result<bool>;

    /// HostBackend
    #[zbus(property)]
    fn host_backend(&self) -> zbus::Result<String>;
}

/// A D-Bus value as JSON: dictionaries become objects, arrays arrays, variants their content.
pub fn to_json(value: &Value<'_>) -> serde_json::Value {
    use serde_json::Value as J;
    match value {
        Value::U8(n) => J::from(*n),
        Value::Bool(b) => J::from(*b),
        Value::I16(n) => J::from(*n),
        Value::U16(n) => J::from(*n),
        Value::I32(n) => J::from(*n),
        Value::U32(n) => J::from(*n),
        Value::I64(n) => J::from(*n),
        Value::U64(n) => J::from(*n),
        Value::F64(n) => J::from(*n),
        Value::Str(s) => J::from(s.as_str()),
        Value::Signature(s) => J::from(s.to_string()),
        Value::ObjectPath(p) => J::from(p.as_str()),
        Value::Value(inner) => to_json(inner),
        Value::Array(a) => J::Array(a.iter().map(to_json).collect()),
        Value::Dict(d) => J::Object(
            d.iter()
                .map(|(k, v)| {
                    let key = match k {
                        Value::Str(s) => s.to_string(),
                        other => to_json(other).to_string(),
                    };
                    (key, to_json(v))
                })
                .collect(),
        ),
        Value::Structure(s) => J::Array(s.fields().iter().map(to_json).collect()),
        Value::Fd(fd) => J::from(fd.to_string()),
        #[allow(unreachable_patterns)]
        _ => J::Null,
    }
}

/// An `a{sv}` answer as a JSON object.
pub fn dict_to_json(dict: &HashMap<String, OwnedValue>) -> serde_json::Value {
    serde_json::Value::Object(dict.iter().map(|(k, v)| (k.clone(), to_json(v))).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_dictionaries_become_json_objects() {
        let inner: HashMap<&str, Value<'_>> =
            HashMap::from([("name", Value::from("podman")), ("available", Value::from(true))]);
        let mut outer: HashMap<String, OwnedValue> = HashMap::new();
        let ov = |v: Value<'_>| OwnedValue::try_from(v).unwrap_or_else(|e| panic!("{e}"));
        outer.insert("engine".into(), ov(Value::from(inner)));
        outer.insert("code".into(), ov(Value::from(3i32)));
        outer.insert("list".into(), ov(Value::from(vec!["a", "b"])));
        let j = dict_to_json(&outer);
        assert_eq!(j["engine"]["name"], "podman");
        assert_eq!(j["engine"]["available"], true);
        assert_eq!(j["code"], 3);
        assert_eq!(j["list"][1], "b");
    }
}
