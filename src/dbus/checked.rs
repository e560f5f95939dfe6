//! Answers a call whose arguments have the wrong D-Bus types as sd-bus and GDBus services do,
//! with `org.freedesktop.DBus.Error.InvalidArgs`, and refuses a bad option naming its key, before
//! the generated dispatcher would answer either with zbus's private `org.freedesktop.zbus.Error`.

use std::collections::HashMap;
use std::ops::Deref;

use zbus::message::Header;
use zbus::names::{InterfaceName, MemberName};
use zbus::object_server::{DispatchResult2, Interface, SignalEmitter};
use zbus::zvariant::{OwnedValue, Structure, Value};
use zbus::{fdo, Connection, Message, ObjectServer};

use crate::error::Error;

/// The largest call atomicd reads: every env file together (1 MiB), the command (256 KiB) and
/// the other options leave room under this. A larger message is refused before its body is
/// read, so no caller makes atomicd hold or copy more than this while polkit is asked.
pub(super) const MAX_CALL_BYTES: usize = 2 * 1024 * 1024;

/// What an interface says of the `a{sv}` options of its methods.
pub trait OptionsSchema {
    /// Checks `options`, the last argument of `method`; an error names the key.
    fn check_options(method: &str, options: &zbus::zvariant::Dict<'_, '_>) -> crate::error::Result<()>;

    /// How many file descriptors a call of `method` can use. A message may carry more (16 with
    /// dbus-daemon's defaults) that atomicd would hold until the call ends, for as long as polkit
    /// waits; such a call is refused before it is dispatched.
    fn max_fds(method: &str) -> u32 {
        let _ = method;
        0
    }
}

/// A generated interface behind a check of each call's argument types.
pub struct Checked<I> {
    inner: I,
    /// Each method's input signature, without parentheses, from the interface's own introspection.
    inputs: HashMap<String, String>,
}

impl<I: Interface> Checked<I> {
    /// Wraps `inner`, learning its methods' signatures from what it introspects as.
    pub fn new(inner: I) -> Self {
        let mut xml = String::from("<node>");
        inner.introspect_to_writer(&mut xml, 0);
        xml.push_str("</node>");
        let inputs = input_signatures(&xml);
        Checked { inner, inputs }
    }
}

/// Method name to the concatenated types of its `in` arguments.
fn input_signatures(xml: &str) -> HashMap<String, String> {
    let Ok(node) = zbus_xml::Node::from_reader(xml.as_bytes()) else { return HashMap::new() };
    let mut inputs = HashMap::new();
    for interface in node.interfaces() {
        for method in interface.methods() {
            let signature: String = method
                .args()
                .iter()
                .filter(|a| a.direction() != Some(zbus_xml::ArgDirection::Out))
                .map(|a| a.ty().to_string())
                .collect();
            inputs.insert(method.name().to_string(), signature);
        }
    }
    inputs
}

impl<I> Deref for Checked<I> {
    type Target = I;
    fn deref(&self) -> &I {
        &self.inner
    }
}

/// Why a call is answered before it reaches the interface.
enum Refusal {
    /// The arguments' types are not the method's.
    Types(fdo::Error),
    /// An option is unknown or of the wrong type.
    Option(Error),
}

impl<I: Interface + OptionsSchema> Checked<I> {
    /// Why this call must be refused, if its arguments are not what `name` takes.
    fn refusal(&self, msg: &Message, name: &str) -> Option<Refusal> {
        let expected = self.inputs.get(name)?;
        let size = msg.data().len();
        if size > MAX_CALL_BYTES {
            return Some(Refusal::Option(Error::InvalidArgument(format!(
                "the {name} call is {size} bytes; atomicd reads calls of at most {MAX_CALL_BYTES} bytes"
            ))));
        }
        let header = msg.header();
        let fds = header.unix_fds().unwrap_or(0);
        if fds > I::max_fds(name) {
            return Some(Refusal::Types(fdo::Error::InvalidArgs(format!(
                "{name} takes at most {} file descriptors; the call carried {fds}",
                I::max_fds(name)
            ))));
        }
        let found = header.signature().to_string_no_parens();
        if &found != expected {
            return Some(Refusal::Types(fdo::Error::InvalidArgs(format!(
                "{name} takes arguments of type \"{expected}\", not \"{}\"",
                crate::text::truncate_for_message(&found)
            ))));
        }
        if !expected.ends_with("a{sv}") {
            return None;
        }
        let body = msg.body();
        let fields = match body.deserialize::<Structure<'_>>() {
            Ok(s) => s.into_fields(),
            Err(e) => return Some(Refusal::Types(fdo::Error::InvalidArgs(e.to_string()))),
        };
        match fields.last() {
            Some(Value::Dict(options)) => I::check_options(name, options).err().map(Refusal::Option),
            _ => None,
        }
    }
}

#[async_trait::async_trait]
impl<I: Interface + OptionsSchema> Interface for Checked<I> {
    fn name() -> InterfaceName<'static> {
        I::name()
    }

    fn spawn_tasks_for_methods(&self) -> bool {
        self.inner.spawn_tasks_for_methods()
    }

    async fn get(
        &self,
        property_name: &str,
        server: &ObjectServer,
        connection: &Connection,
        header: Option<&Header<'_>>,
        emitter: &SignalEmitter<'_>,
    ) -> Option<fdo::Result<OwnedValue>> {
        self.inner.get(property_name, server, connection, header, emitter).await
    }

    async fn get_all(
        &self,
        server: &ObjectServer,
        connection: &Connection,
        header: Option<&Header<'_>>,
        emitter: &SignalEmitter<'_>,
    ) -> fdo::Result<HashMap<String, OwnedValue>> {
        self.inner.get_all(server, connection, header, emitter).await
    }

    fn set<'call>(
        &'call self,
        property_name: &'call str,
        value: &'call Value<'_>,
        server: &'call ObjectServer,
        connection: &'call Connection,
        header: Option<&'call Header<'_>>,
        emitter: &'call SignalEmitter<'_>,
    ) -> DispatchResult2<'call> {
        self.inner.set(property_name, value, server, connection, header, emitter)
    }

    async fn set_mut(
        &mut self,
        property_name: &str,
        value: &Value<'_>,
        server: &ObjectServer,
        connection: &Connection,
        header: Option<&Header<'_>>,
        emitter: &SignalEmitter<'_>,
    ) -> Option<fdo::Result<()>> {
        self.inner.set_mut(property_name, value, server, connection, header, emitter).await
    }

    fn call<'call>(
        &'call self,
        server: &'call ObjectServer,
        connection: &'call Connection,
        msg: &'call Message,
        name: MemberName<'call>,
    ) -> DispatchResult2<'call> {
        match self.refusal(msg, name.as_str()) {
            None => self.inner.call(server, connection, msg, name),
            Some(refusal) => DispatchResult2::Async(Box::pin(async move {
                let header = msg.header();
                let sent = match refusal {
                    Refusal::Types(e) => connection.reply_dbus_error(&header, e).await,
                    Refusal::Option(e) => connection.reply_dbus_error(&header, e).await,
                };
                sent.map(drop).map_err(|e| fdo::Error::Failed(e.to_string()))
            })),
        }
    }

    fn call_mut<'call>(
        &'call mut self,
        server: &'call ObjectServer,
        connection: &'call Connection,
        msg: &'call Message,
        name: MemberName<'call>,
    ) -> DispatchResult2<'call> {
        self.inner.call_mut(server, connection, msg, name)
    }

    fn introspect_to_writer(&self, writer: &mut dyn std::fmt::Write, level: usize) {
        self.inner.introspect_to_writer(writer, level);
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap as Map;

    use zbus::zvariant::Value;

    use super::*;
    use crate::wire::options::{check, StopOptions};

    /// An interface with one method of each shape the checks tell apart.
    struct Probe;

    #[zbus::interface(name = "org.atomic.Probe")]
    impl Probe {
        fn stop(&self, _name: String, _options: Map<String, zbus::zvariant::OwnedValue>) {}
        fn pin(&self, _id: String, _pinned: bool) {}
    }

    impl OptionsSchema for Probe {
        fn check_options(method: &str, dict: &zbus::zvariant::Dict<'_, '_>) -> crate::error::Result<()> {
            match method {
                "Stop" => check::<StopOptions>(dict),
                _ => Ok(()),
            }
        }
    }

    fn call<B>(member: &str, body: &B) -> Message
    where
        B: serde::Serialize + zbus::zvariant::DynamicType,
    {
        Message::method_call("/org/atomic/Probe", member)
            .and_then(|m| m.interface("org.atomic.Probe"))
            .and_then(|m| m.build(body))
            .unwrap()
    }

    fn options(pairs: Vec<(&str, Value<'static>)>) -> Map<String, Value<'static>> {
        pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
    }

    fn said(refusal: Option<Refusal>) -> String {
        match refusal {
            None => "accepted".into(),
            Some(Refusal::Types(e)) => format!("types: {e}"),
            Some(Refusal::Option(e)) => format!("option: {} {e}", e.dbus_name()),
        }
    }

    #[test]
    fn each_call_is_held_to_its_method_s_signature_and_options_before_dispatch() {
        let checked = Checked::new(Probe);
        assert_eq!(checked.inputs.get("Stop").map(String::as_str), Some("sa{sv}"), "from the introspection");
        let good = call("Stop", &("web", options(vec![("timeout", Value::U32(3))])));
        assert_eq!(said(checked.refusal(&good, "Stop")), "accepted");
        let wrong_types = call("Stop", &(7i32, options(vec![])));
        assert!(said(checked.refusal(&wrong_types, "Stop")).contains("takes arguments of type \"sa{sv}\""));
        let unknown = call("Stop", &("web", options(vec![("tiemout", Value::U32(3))])));
        let unknown = said(checked.refusal(&unknown, "Stop"));
        assert!(
            unknown.starts_with("option: org.atomic.Error.InvalidArgument") && unknown.contains("tiemout"),
            "{unknown}"
        );
        let mistyped = call("Stop", &("web", options(vec![("timeout", Value::from("3"))])));
        let mistyped = said(checked.refusal(&mistyped, "Stop"));
        assert!(mistyped.contains("timeout"), "the key is named: {mistyped}");
        let huge = "x".repeat(MAX_CALL_BYTES + 1);
        let huge = call("Stop", &(huge.as_str(), options(vec![])));
        assert!(said(checked.refusal(&huge, "Stop")).contains("atomicd reads calls of at most"));
        // A method without options is held to its signature alone.
        assert_eq!(said(checked.refusal(&call("Pin", &("id", true)), "Pin")), "accepted");
        assert!(said(checked.refusal(&call("Pin", &("id", "yes")), "Pin")).starts_with("types:"));
    }
}
