//! Every string value of the config on its way from the YAML text to the typed config: `${VAR}`
//! expanded ([`super::expand`]) and, under a key ending in `_file`, resolved against the config
//! file's directory ([`super::paths`]) — each with the key it sits at, so that what a
//! syntax-only check leaves out names its key.
//!
//! [`Values`] wraps the YAML deserializer: serde's visitors see the values as rewritten, while
//! the wrapper follows the keys and sequence indices it passes through. Why not rewrite a parsed
//! `serde_yaml_ng::Value` tree first: the tree costs memory for every list entry, so a config of
//! 100,000 repositories took much longer and far more memory at its peak to load that way, and a
//! reload held the tree on top of everything the running exporter holds (BENCHMARKS.md,
//! "Figures behind the code"); deserializing straight from the text keeps neither.

use std::cell::RefCell;
use std::fmt;
use std::path::Path;

use serde::de::{self, DeserializeSeed, Deserializer, Visitor};

use super::expand::{expand_str, ExpandError, Lookup, UnsetVariable};
use super::paths::{self, FileKey};

/// How values are rewritten, and what was found while doing so.
pub(crate) struct Reader<'a> {
    lookup: Lookup<'a>,
    /// The config file's directory: relative `_file` paths resolve against it.
    base: Option<&'a Path>,
    /// An unset `${VAR}` stays as written (syntax-only checks) instead of failing.
    keep_unset: bool,
    found: RefCell<Found>,
}

/// What [`Reader`] found: the variables left unset and the path keys, in document order.
#[derive(Debug, Default)]
pub(crate) struct Found {
    pub unset: Vec<UnsetVariable>,
    pub files: Vec<FileKey>,
    /// Where the reader is: one segment per key (`auth`) or index (`[3]`).
    path: Vec<String>,
    /// The key most recently read, until its value is.
    key: Option<String>,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(lookup: Lookup<'a>, base: Option<&'a Path>, keep_unset: bool) -> Self {
        Self {
            lookup,
            base,
            keep_unset,
            found: RefCell::default(),
        }
    }

    /// `inner` with every string value rewritten by this reader.
    pub(crate) fn values<D>(&'a self, inner: D) -> Values<'a, D> {
        Values::new(inner, self, Role::Value)
    }

    pub(crate) fn into_found(self) -> Found {
        self.found.into_inner()
    }

    /// `text` as the config means it, or `None` when that is `text` itself.
    fn rewrite(&self, text: &str) -> Result<Option<String>, ExpandError> {
        let mut found = self.found.borrow_mut();
        let is_path = found.path.last().is_some_and(|key| paths::is_path_key(key));
        if !is_path && !text.contains('$') {
            return Ok(None);
        }
        let mut unset = Vec::new();
        let keep = self.keep_unset.then_some(&mut unset);
        let expanded = expand_str(text, self.lookup, keep)?;
        let key = join_path(&found.path);
        let rewritten = if is_path {
            // A path still holding an unset `${VAR}` is reported as written: where it points is
            // not known.
            let base = if unset.is_empty() { self.base } else { None };
            let path = paths::resolve(&expanded, base);
            let text = path.to_string_lossy().into_owned();
            found.files.push(FileKey {
                key: key.clone(),
                path,
            });
            text
        } else {
            expanded
        };
        found
            .unset
            .extend(unset.into_iter().map(|name| UnsetVariable {
                key: key.clone(),
                name,
            }));
        Ok((rewritten != text).then_some(rewritten))
    }

    fn read_key(&self, key: &str) {
        self.found.borrow_mut().key = Some(key.to_owned());
    }

    fn enter(&self, segment: String) {
        self.found.borrow_mut().path.push(segment);
    }

    fn leave(&self) {
        self.found.borrow_mut().path.pop();
    }

    /// The key just read, as a path segment (`?` for one that was not a string).
    fn take_key(&self) -> String {
        self.found
            .borrow_mut()
            .key
            .take()
            .unwrap_or_else(|| "?".to_owned())
    }
}

/// `a.b[0].c`, as `serde_path_to_error` prints a path (so the two can be compared).
fn join_path(path: &[String]) -> String {
    if path.is_empty() {
        return ".".to_owned();
    }
    let mut out = String::new();
    for segment in path {
        if !out.is_empty() && !segment.starts_with('[') {
            out.push('.');
        }
        out.push_str(segment);
    }
    out
}

/// Whether the strings passing are a map's key (noted) or a value (rewritten).
#[derive(Clone, Copy)]
enum Role {
    Key,
    Value,
}

/// A deserializer whose string values are rewritten by a [`Reader`]. A rewriting error is a
/// `custom` error of the inner deserializer, so `serde_path_to_error` names the key it
/// happened at.
pub(crate) struct Values<'a, D> {
    inner: D,
    reader: &'a Reader<'a>,
    role: Role,
}

impl<'a, D> Values<'a, D> {
    fn new(inner: D, reader: &'a Reader<'a>, role: Role) -> Self {
        Self {
            inner,
            reader,
            role,
        }
    }
}

/// A visitor, seed or access whose strings go through the reader.
struct Wrap<'a, T> {
    inner: T,
    reader: &'a Reader<'a>,
    role: Role,
}

impl<'a, T> Wrap<'a, T> {
    fn new(inner: T, reader: &'a Reader<'a>, role: Role) -> Self {
        Self {
            inner,
            reader,
            role,
        }
    }
}

/// A sequence access that counts its elements, for the path.
struct Indexed<'a, A> {
    inner: A,
    reader: &'a Reader<'a>,
    next: usize,
}

/// Forwards `deserialize_*` methods to the inner deserializer with the visitor wrapped.
macro_rules! forward_wrapped {
    ($($method:ident ( $($arg:ident : $ty:ty),* ))*) => {$(
        fn $method<V: Visitor<'de>>(self, $($arg: $ty,)* visitor: V) -> Result<V::Value, D::Error> {
            self.inner.$method($($arg,)* Wrap::new(visitor, self.reader, self.role))
        }
    )*};
}

impl<'de, D: Deserializer<'de>> Deserializer<'de> for Values<'_, D> {
    type Error = D::Error;

    forward_wrapped! {
        deserialize_any() deserialize_bool() deserialize_i8() deserialize_i16()
        deserialize_i32() deserialize_i64() deserialize_i128() deserialize_u8()
        deserialize_u16() deserialize_u32() deserialize_u64() deserialize_u128()
        deserialize_f32() deserialize_f64() deserialize_char() deserialize_str()
        deserialize_string() deserialize_bytes() deserialize_byte_buf() deserialize_option()
        deserialize_unit() deserialize_seq() deserialize_map()
        deserialize_unit_struct(name: &'static str)
        deserialize_newtype_struct(name: &'static str)
        deserialize_tuple(len: usize)
        deserialize_tuple_struct(name: &'static str, len: usize)
        deserialize_struct(name: &'static str, fields: &'static [&'static str])
        deserialize_enum(name: &'static str, variants: &'static [&'static str])
    }

    /// A struct's field names are noted as keys; variant names are never rewritten.
    fn deserialize_identifier<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
        match self.role {
            Role::Key => {
                self.inner
                    .deserialize_identifier(Wrap::new(visitor, self.reader, Role::Key))
            }
            Role::Value => self.inner.deserialize_identifier(visitor),
        }
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
        self.inner.deserialize_ignored_any(visitor)
    }

    fn is_human_readable(&self) -> bool {
        self.inner.is_human_readable()
    }
}

/// Forwards `visit_*` methods that carry no string and no nested value.
macro_rules! forward_visits {
    ($($method:ident ( $($arg:ident : $ty:ty),* ))*) => {$(
        fn $method<E: de::Error>(self, $($arg: $ty),*) -> Result<V::Value, E> {
            self.inner.$method($($arg),*)
        }
    )*};
}

impl<'de, V: Visitor<'de>> Visitor<'de> for Wrap<'_, V> {
    type Value = V::Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.inner.expecting(f)
    }

    forward_visits! {
        visit_bool(v: bool) visit_i8(v: i8) visit_i16(v: i16) visit_i32(v: i32)
        visit_i64(v: i64) visit_i128(v: i128) visit_u8(v: u8) visit_u16(v: u16)
        visit_u32(v: u32) visit_u64(v: u64) visit_u128(v: u128) visit_f32(v: f32)
        visit_f64(v: f64) visit_char(v: char) visit_bytes(v: &[u8])
        visit_borrowed_bytes(v: &'de [u8]) visit_byte_buf(v: Vec<u8>) visit_none()
        visit_unit()
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<V::Value, E> {
        match self.rewrite(v)? {
            Some(text) => self.inner.visit_string(text),
            None => self.inner.visit_str(v),
        }
    }

    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<V::Value, E> {
        match self.rewrite(v)? {
            Some(text) => self.inner.visit_string(text),
            None => self.inner.visit_borrowed_str(v),
        }
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<V::Value, E> {
        match self.rewrite(&v)? {
            Some(text) => self.inner.visit_string(text),
            None => self.inner.visit_string(v),
        }
    }

    fn visit_some<D2: Deserializer<'de>>(self, d: D2) -> Result<V::Value, D2::Error> {
        self.inner
            .visit_some(Values::new(d, self.reader, self.role))
    }

    fn visit_newtype_struct<D2: Deserializer<'de>>(self, d: D2) -> Result<V::Value, D2::Error> {
        self.inner
            .visit_newtype_struct(Values::new(d, self.reader, self.role))
    }

    fn visit_seq<A: de::SeqAccess<'de>>(self, seq: A) -> Result<V::Value, A::Error> {
        self.inner.visit_seq(Indexed {
            inner: seq,
            reader: self.reader,
            next: 0,
        })
    }

    fn visit_map<A: de::MapAccess<'de>>(self, map: A) -> Result<V::Value, A::Error> {
        self.inner
            .visit_map(Wrap::new(map, self.reader, Role::Value))
    }

    fn visit_enum<A: de::EnumAccess<'de>>(self, data: A) -> Result<V::Value, A::Error> {
        self.inner
            .visit_enum(Wrap::new(data, self.reader, Role::Value))
    }
}

impl<V> Wrap<'_, V> {
    /// A key is noted and passed on as read; a value is rewritten.
    fn rewrite<E: de::Error>(&self, text: &str) -> Result<Option<String>, E> {
        match self.role {
            Role::Key => {
                self.reader.read_key(text);
                Ok(None)
            }
            Role::Value => self.reader.rewrite(text).map_err(E::custom),
        }
    }
}

impl<'de, S: DeserializeSeed<'de>> DeserializeSeed<'de> for Wrap<'_, S> {
    type Value = S::Value;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<S::Value, D::Error> {
        self.inner
            .deserialize(Values::new(d, self.reader, self.role))
    }
}

impl<'de, A: de::SeqAccess<'de>> de::SeqAccess<'de> for Indexed<'_, A> {
    type Error = A::Error;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, A::Error> {
        self.reader.enter(format!("[{}]", self.next));
        self.next += 1;
        let element = self
            .inner
            .next_element_seed(Wrap::new(seed, self.reader, Role::Value));
        self.reader.leave();
        element
    }

    fn size_hint(&self) -> Option<usize> {
        self.inner.size_hint()
    }
}

impl<'de, A: de::MapAccess<'de>> de::MapAccess<'de> for Wrap<'_, A> {
    type Error = A::Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, A::Error> {
        self.inner
            .next_key_seed(Wrap::new(seed, self.reader, Role::Key))
    }

    fn next_value_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<T::Value, A::Error> {
        self.reader.enter(self.reader.take_key());
        let value = self
            .inner
            .next_value_seed(Wrap::new(seed, self.reader, Role::Value));
        self.reader.leave();
        value
    }

    fn size_hint(&self) -> Option<usize> {
        self.inner.size_hint()
    }
}

impl<'de, 'a, A: de::EnumAccess<'de>> de::EnumAccess<'de> for Wrap<'a, A> {
    type Error = A::Error;
    type Variant = Wrap<'a, A::Variant>;

    fn variant_seed<T: DeserializeSeed<'de>>(
        self,
        seed: T,
    ) -> Result<(T::Value, Self::Variant), A::Error> {
        let (value, variant) = self.inner.variant_seed(seed)?;
        Ok((value, Wrap::new(variant, self.reader, Role::Value)))
    }
}

impl<'de, A: de::VariantAccess<'de>> de::VariantAccess<'de> for Wrap<'_, A> {
    type Error = A::Error;

    fn unit_variant(self) -> Result<(), A::Error> {
        self.inner.unit_variant()
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<T::Value, A::Error> {
        self.inner
            .newtype_variant_seed(Wrap::new(seed, self.reader, Role::Value))
    }

    fn tuple_variant<V: Visitor<'de>>(self, len: usize, visitor: V) -> Result<V::Value, A::Error> {
        self.inner
            .tuple_variant(len, Wrap::new(visitor, self.reader, Role::Value))
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, A::Error> {
        self.inner
            .struct_variant(fields, Wrap::new(visitor, self.reader, Role::Value))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde::Deserialize;

    use super::*;
    use crate::config::expand::test_env as env;

    /// `yaml` read as `T` by a reader with `base` and `keep_unset`; an error as
    /// `path: message`.
    fn read<T: serde::de::DeserializeOwned>(
        yaml: &str,
        base: Option<&Path>,
        keep_unset: bool,
    ) -> Result<(T, Found), String> {
        let reader = Reader::new(&env, base, keep_unset);
        let yaml = serde_yaml_ng::Deserializer::from_str(yaml);
        let value = serde_path_to_error::deserialize(reader.values(yaml))
            .map_err(|err| format!("{}: {}", err.path(), err.inner()))?;
        Ok((value, reader.into_found()))
    }

    fn parse<T: serde::de::DeserializeOwned>(yaml: &str) -> Result<T, String> {
        read(yaml, None, false).map(|(value, _)| value)
    }

    type Tree = BTreeMap<String, BTreeMap<String, BTreeMap<String, String>>>;

    #[test]
    fn an_unset_variable_is_an_error_at_its_key() {
        let err = parse::<Tree>("codearts:\n  auth:\n    token: ${NOPE}\n").unwrap_err();
        assert!(err.starts_with("codearts.auth.token:"), "{err}");
        assert!(err.contains("NOPE"), "{err}");
    }

    #[test]
    fn secret_with_yaml_syntax_does_not_change_structure() {
        #[derive(Deserialize)]
        struct Doc {
            token: String,
            other: u64,
        }
        let doc: Doc = parse("token: ${TOKEN}\nother: 1\n").unwrap();
        assert_eq!(doc.token, "s3cr#t: value");
        assert_eq!(doc.other, 1);
    }

    #[test]
    fn sequence_paths_are_indexed() {
        type Doc = BTreeMap<String, Vec<BTreeMap<String, String>>>;
        let err = parse::<Doc>("repositories:\n  - name: a\n  - name: ${NOPE}\n").unwrap_err();
        assert!(err.starts_with("repositories[1].name:"), "{err}");
    }

    #[test]
    fn keys_stay_as_written_and_nested_values_are_expanded() {
        let doc: BTreeMap<String, Vec<Option<String>>> =
            parse("${PORT}:\n  - ${PORT}\n  - null\n").unwrap();
        assert_eq!(doc["${PORT}"], [Some("8080".to_owned()), None]);
    }

    #[test]
    fn syntax_only_keeps_an_unset_variable_and_names_its_key() {
        #[derive(Deserialize)]
        struct Auth {
            password_file: String,
            token: String,
        }
        #[derive(Deserialize)]
        struct Doc {
            auth: Auth,
        }
        let (doc, found) = read::<Doc>(
            "auth:\n  password_file: ${NOPE}/password\n  token: ${TOKEN}\n",
            Some(Path::new("/etc/exporter")),
            true,
        )
        .unwrap();
        assert_eq!(doc.auth.password_file, "${NOPE}/password");
        assert_eq!(doc.auth.token, "s3cr#t: value");
        assert_eq!(
            found.unset,
            [UnsetVariable {
                key: "auth.password_file".to_owned(),
                name: "NOPE".to_owned()
            }]
        );
        // Its location is unknown, so it is not resolved against the base.
        assert_eq!(found.files[0].path, Path::new("${NOPE}/password"));
    }

    #[test]
    fn path_keys_at_any_depth_resolve_against_the_base_after_expansion() {
        let yaml = "a:\n  token_file: token\n  b:\n    security_token_file: ${PORT}/st\n  \
                    abs_file: /x/y\n  name: relative\nlist:\n  - ca_file: ca.pem\n";
        #[derive(Deserialize)]
        struct B {
            security_token_file: String,
        }
        #[derive(Deserialize)]
        struct A {
            token_file: String,
            b: B,
            abs_file: String,
            name: String,
        }
        #[derive(Deserialize)]
        struct Doc {
            a: A,
            list: Vec<BTreeMap<String, String>>,
        }
        let (doc, found) = read::<Doc>(yaml, Some(Path::new("/etc/exporter")), false).unwrap();
        assert_eq!(doc.a.token_file, "/etc/exporter/token");
        assert_eq!(doc.a.b.security_token_file, "/etc/exporter/8080/st");
        assert_eq!(doc.a.abs_file, "/x/y");
        assert_eq!(doc.a.name, "relative");
        assert_eq!(doc.list[0]["ca_file"], "/etc/exporter/ca.pem");
        let keys: Vec<&str> = found.files.iter().map(|f| f.key.as_str()).collect();
        assert_eq!(
            keys,
            [
                "a.token_file",
                "a.b.security_token_file",
                "a.abs_file",
                "list[0].ca_file"
            ]
        );
    }

    #[test]
    fn without_a_base_paths_stay_as_written() {
        let (doc, _) =
            read::<BTreeMap<String, String>>("token_file: token\n", None, false).unwrap();
        assert_eq!(doc["token_file"], "token");
    }
}
