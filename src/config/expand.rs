//! `${VAR}` expansion from the environment in every string value of the config file.
//!
//! Expansion works on parsed YAML scalars, not on the raw text: a secret that contains `#` or
//! `: ` cannot change the document's structure, and a `${VAR}` inside a comment is never
//! evaluated. Only the braced form is expanded, so regex anchors such as `-archive$` stay as
//! written; `$${` produces a literal `${`.

use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, Visitor};

/// Looks an environment variable up by name.
pub type Lookup<'a> = &'a dyn Fn(&str) -> Option<String>;

/// A deserializer that hands every string value out `${VAR}`-expanded with `lookup`; keys
/// (struct fields) are left as written. An expansion error is a `custom` error of the inner
/// deserializer, so `serde_path_to_error` names the key it happened at.
///
/// Why not expand a parsed `serde_yaml_ng::Value` tree first (as before): that tree costs
/// about 1 KiB per list entry. A 100,000-entry config took 0.36 s and 112 MiB at its peak to
/// load that way, and a reload held that on top of everything the running exporter holds
/// (BENCHMARKS.md, "Before and after"); deserializing straight from the text keeps neither.
pub struct Expanding<'a, D> {
    inner: D,
    lookup: Lookup<'a>,
}

impl<'a, D> Expanding<'a, D> {
    pub fn new(inner: D, lookup: Lookup<'a>) -> Self {
        Self { inner, lookup }
    }
}

/// A visitor (or seed, or access) whose strings are expanded.
struct Wrap<'a, T> {
    inner: T,
    lookup: Lookup<'a>,
}

impl<'a, T> Wrap<'a, T> {
    fn new(inner: T, lookup: Lookup<'a>) -> Self {
        Self { inner, lookup }
    }
}

/// Forwards `deserialize_*` methods to the inner deserializer with the visitor wrapped.
macro_rules! forward_wrapped {
    ($($method:ident ( $($arg:ident : $ty:ty),* ))*) => {$(
        fn $method<V: Visitor<'de>>(self, $($arg: $ty,)* visitor: V) -> Result<V::Value, D::Error> {
            self.inner.$method($($arg,)* Wrap::new(visitor, self.lookup))
        }
    )*};
}

impl<'de, D: Deserializer<'de>> Deserializer<'de> for Expanding<'_, D> {
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

    /// Keys and variant names are never expanded.
    fn deserialize_identifier<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
        self.inner.deserialize_identifier(visitor)
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
        match v.contains('$') {
            true => self
                .inner
                .visit_string(expand_str(v, self.lookup).map_err(E::custom)?),
            false => self.inner.visit_str(v),
        }
    }

    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<V::Value, E> {
        match v.contains('$') {
            true => self
                .inner
                .visit_string(expand_str(v, self.lookup).map_err(E::custom)?),
            false => self.inner.visit_borrowed_str(v),
        }
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<V::Value, E> {
        match v.contains('$') {
            true => self
                .inner
                .visit_string(expand_str(&v, self.lookup).map_err(E::custom)?),
            false => self.inner.visit_string(v),
        }
    }

    fn visit_some<D2: Deserializer<'de>>(self, d: D2) -> Result<V::Value, D2::Error> {
        self.inner.visit_some(Expanding::new(d, self.lookup))
    }

    fn visit_newtype_struct<D2: Deserializer<'de>>(self, d: D2) -> Result<V::Value, D2::Error> {
        self.inner
            .visit_newtype_struct(Expanding::new(d, self.lookup))
    }

    fn visit_seq<A: de::SeqAccess<'de>>(self, seq: A) -> Result<V::Value, A::Error> {
        self.inner.visit_seq(Wrap::new(seq, self.lookup))
    }

    fn visit_map<A: de::MapAccess<'de>>(self, map: A) -> Result<V::Value, A::Error> {
        self.inner.visit_map(Wrap::new(map, self.lookup))
    }

    fn visit_enum<A: de::EnumAccess<'de>>(self, data: A) -> Result<V::Value, A::Error> {
        self.inner.visit_enum(Wrap::new(data, self.lookup))
    }
}

impl<'de, S: DeserializeSeed<'de>> DeserializeSeed<'de> for Wrap<'_, S> {
    type Value = S::Value;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<S::Value, D::Error> {
        self.inner.deserialize(Expanding::new(d, self.lookup))
    }
}

impl<'de, A: de::SeqAccess<'de>> de::SeqAccess<'de> for Wrap<'_, A> {
    type Error = A::Error;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, A::Error> {
        self.inner.next_element_seed(Wrap::new(seed, self.lookup))
    }

    fn size_hint(&self) -> Option<usize> {
        self.inner.size_hint()
    }
}

impl<'de, A: de::MapAccess<'de>> de::MapAccess<'de> for Wrap<'_, A> {
    type Error = A::Error;

    /// Keys as written.
    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, A::Error> {
        self.inner.next_key_seed(seed)
    }

    fn next_value_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<T::Value, A::Error> {
        self.inner.next_value_seed(Wrap::new(seed, self.lookup))
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
        Ok((value, Wrap::new(variant, self.lookup)))
    }
}

impl<'de, A: de::VariantAccess<'de>> de::VariantAccess<'de> for Wrap<'_, A> {
    type Error = A::Error;

    fn unit_variant(self) -> Result<(), A::Error> {
        self.inner.unit_variant()
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<T::Value, A::Error> {
        self.inner
            .newtype_variant_seed(Wrap::new(seed, self.lookup))
    }

    fn tuple_variant<V: Visitor<'de>>(self, len: usize, visitor: V) -> Result<V::Value, A::Error> {
        self.inner
            .tuple_variant(len, Wrap::new(visitor, self.lookup))
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, A::Error> {
        self.inner
            .struct_variant(fields, Wrap::new(visitor, self.lookup))
    }
}

fn expand_str(text: &str, lookup: Lookup<'_>) -> Result<String, String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find('$') {
        out.push_str(&rest[..start]);
        let after = &rest[start..];
        if let Some(escaped) = after.strip_prefix("$${") {
            out.push_str("${");
            rest = escaped;
        } else if let Some(body) = after.strip_prefix("${") {
            let end = body
                .find('}')
                .ok_or_else(|| "unterminated ${ in value".to_owned())?;
            let name = &body[..end];
            if !is_env_name(name) {
                return Err(format!(
                    "${{{name}}} is not a valid environment variable name"
                ));
            }
            let value =
                lookup(name).ok_or_else(|| format!("environment variable {name} is not set"))?;
            out.push_str(&value);
            rest = &body[end + 1..];
        } else {
            out.push('$');
            rest = &after[1..];
        }
    }
    out.push_str(rest);
    Ok(out)
}

fn is_env_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde::Deserialize;

    use super::*;

    fn env(name: &str) -> Option<String> {
        match name {
            "TOKEN" => Some("s3cr#t: value".to_owned()),
            "PORT" => Some("8080".to_owned()),
            _ => None,
        }
    }

    /// `yaml` deserialized with expansion; an error as `path: message`.
    fn parse<T: serde::de::DeserializeOwned>(yaml: &str) -> Result<T, String> {
        let yaml = serde_yaml_ng::Deserializer::from_str(yaml);
        serde_path_to_error::deserialize(Expanding::new(yaml, &env))
            .map_err(|err| format!("{}: {}", err.path(), err.inner()))
    }

    #[test]
    fn expands_braced_variables() {
        assert_eq!(expand_str("a-${PORT}-b", &env).unwrap(), "a-8080-b");
    }

    #[test]
    fn leaves_regex_anchors_and_bare_dollars_alone() {
        assert_eq!(expand_str("-archive$", &env).unwrap(), "-archive$");
        assert_eq!(expand_str("$PORT", &env).unwrap(), "$PORT");
    }

    #[test]
    fn double_dollar_escapes_expansion() {
        assert_eq!(expand_str("$${PORT}", &env).unwrap(), "${PORT}");
    }

    #[test]
    fn unset_variable_is_an_error_naming_it() {
        let err = expand_str("${NOPE}", &env).unwrap_err();
        assert!(err.contains("NOPE"), "{err}");
    }

    #[test]
    fn error_names_the_key_path() {
        type Nested = BTreeMap<String, BTreeMap<String, BTreeMap<String, String>>>;
        let err = parse::<Nested>("codearts:\n  auth:\n    token: ${NOPE}\n").unwrap_err();
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
        let err = parse::<Doc>("repositories:\n  - name: ${NOPE}\n").unwrap_err();
        assert!(err.starts_with("repositories[0].name:"), "{err}");
    }

    #[test]
    fn keys_stay_as_written_and_nested_values_are_expanded() {
        let doc: BTreeMap<String, Vec<Option<String>>> =
            parse("${PORT}:\n  - ${PORT}\n  - null\n").unwrap();
        assert_eq!(doc["${PORT}"], [Some("8080".to_owned()), None]);
    }
}
