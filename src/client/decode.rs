//! Field decoders that convert what converts and drop what does not, as the official SDK's
//! `Client._deserialize_primitive` does: a field of an unexpected type never rejects the whole
//! answer, it only goes missing (docs/upstream-api.md, "Decoding").
//!
//! - text fields take strings as they are, numbers as written (`"status": 0` is `"0"`) and
//!   booleans as Python writes them (`True`, `False`), since that is what the SDK hands a user;
//! - integer fields take integers, integral floats and strings holding an integer (`"id": "1"`);
//! - boolean fields take booleans, the strings `true`/`false` (any case) and the numbers 1 and 0.
//!   (The SDK's own `bool("false")` is `True`; that is a bug we do not copy.)
//!
//! Objects and arrays where a scalar belongs, and `null`, are dropped. Each decoder reads exactly
//! one JSON value whatever it holds, so the rest of the answer is unaffected.

use std::fmt;
use std::marker::PhantomData;

use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;

/// A text field.
pub(crate) fn text<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<String>, D::Error> {
    deserializer.deserialize_any(Scalar(PhantomData::<String>))
}

/// An integer field.
pub(crate) fn integer<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<i64>, D::Error> {
    deserializer.deserialize_any(Scalar(PhantomData::<i64>))
}

/// A boolean field.
pub(crate) fn boolean<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<bool>, D::Error> {
    deserializer.deserialize_any(Scalar(PhantomData::<bool>))
}

/// A nested object, or `None` when the value is anything else (`null`, a string, an array).
pub(crate) fn object<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    deserializer.deserialize_any(Object(PhantomData))
}

/// What one scalar JSON value becomes as a field of type `Self`.
trait FromScalar: Sized {
    fn from_text(text: &str) -> Option<Self>;
    fn from_i64(value: i64) -> Option<Self>;
    fn from_u64(value: u64) -> Option<Self>;
    fn from_f64(value: f64) -> Option<Self>;
    fn from_bool(value: bool) -> Option<Self>;
}

impl FromScalar for String {
    fn from_text(text: &str) -> Option<Self> {
        Some(text.to_owned())
    }
    fn from_i64(value: i64) -> Option<Self> {
        Some(value.to_string())
    }
    fn from_u64(value: u64) -> Option<Self> {
        Some(value.to_string())
    }
    fn from_f64(value: f64) -> Option<Self> {
        Some(value.to_string())
    }
    fn from_bool(value: bool) -> Option<Self> {
        Some(if value { "True" } else { "False" }.to_owned())
    }
}

impl FromScalar for i64 {
    fn from_text(text: &str) -> Option<Self> {
        text.trim().parse().ok()
    }
    fn from_i64(value: i64) -> Option<Self> {
        Some(value)
    }
    fn from_u64(value: u64) -> Option<Self> {
        i64::try_from(value).ok()
    }
    fn from_f64(value: f64) -> Option<Self> {
        (value.fract() == 0.0 && value.abs() < 9.0e15).then_some(value as i64)
    }
    fn from_bool(_: bool) -> Option<Self> {
        None
    }
}

impl FromScalar for bool {
    fn from_text(text: &str) -> Option<Self> {
        match text.trim().to_ascii_lowercase().as_str() {
            "true" => Some(true),
            "false" => Some(false),
            _ => None,
        }
    }
    fn from_i64(value: i64) -> Option<Self> {
        match value {
            1 => Some(true),
            0 => Some(false),
            _ => None,
        }
    }
    fn from_u64(value: u64) -> Option<Self> {
        Self::from_i64(i64::try_from(value).ok()?)
    }
    fn from_f64(value: f64) -> Option<Self> {
        Self::from_i64(i64::from_f64(value)?)
    }
    fn from_bool(value: bool) -> Option<Self> {
        Some(value)
    }
}

struct Scalar<T>(PhantomData<T>);

impl<'de, T: FromScalar> Visitor<'de> for Scalar<T> {
    type Value = Option<T>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(T::from_text(v))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Ok(T::from_i64(v))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        Ok(T::from_u64(v))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        Ok(T::from_f64(v))
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
        Ok(T::from_bool(v))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(None)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(None)
    }
}

struct Object<T>(PhantomData<T>);

impl<'de, T: Deserialize<'de>> Visitor<'de> for Object<T> {
    type Value = Option<T>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        T::deserialize(de::value::MapAccessDeserializer::new(map)).map(Some)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(None)
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Default, PartialEq, Deserialize)]
    struct Fields {
        #[serde(default, deserialize_with = "text")]
        text: Option<String>,
        #[serde(default, deserialize_with = "integer")]
        integer: Option<i64>,
        #[serde(default, deserialize_with = "boolean")]
        boolean: Option<bool>,
        #[serde(default, deserialize_with = "object")]
        object: Option<Box<Fields>>,
        #[serde(default, deserialize_with = "text")]
        after: Option<String>,
    }

    fn decode(json: &str) -> Fields {
        serde_json::from_str(json).unwrap_or_else(|e| panic!("{json}: {e}"))
    }

    #[test]
    fn text_takes_strings_numbers_and_booleans_as_the_sdk_writes_them() {
        for (json, expected) in [
            (r#""finish""#, Some("finish")),
            ("0", Some("0")),
            ("20250604", Some("20250604")),
            ("-3", Some("-3")),
            ("1.5", Some("1.5")),
            ("true", Some("True")),
            ("null", None),
            ("[1]", None),
            (r#"{"a":1}"#, None),
        ] {
            let fields = decode(&format!(r#"{{"text": {json}, "after": "kept"}}"#));
            assert_eq!(fields.text.as_deref(), expected, "{json}");
            assert_eq!(fields.after.as_deref(), Some("kept"), "{json}");
        }
    }

    #[test]
    fn integers_take_numbers_integral_floats_and_numeric_strings() {
        for (json, expected) in [
            ("1", Some(1)),
            (r#""1""#, Some(1)),
            (r#"" 42 ""#, Some(42)),
            ("3.0", Some(3)),
            ("3.5", None),
            (r#""3.5""#, None),
            (r#""many""#, None),
            ("true", None),
            ("18446744073709551615", None),
            ("null", None),
            (r#"{"id": 1}"#, None),
        ] {
            let fields = decode(&format!(r#"{{"integer": {json}, "after": "kept"}}"#));
            assert_eq!(fields.integer, expected, "{json}");
            assert_eq!(fields.after.as_deref(), Some("kept"), "{json}");
        }
    }

    #[test]
    fn booleans_take_booleans_true_false_strings_and_one_or_zero() {
        for (json, expected) in [
            ("true", Some(true)),
            ("false", Some(false)),
            (r#""true""#, Some(true)),
            (r#""False""#, Some(false)),
            ("1", Some(true)),
            ("0", Some(false)),
            ("2", None),
            (r#""yes""#, None),
            ("null", None),
            ("[true]", None),
        ] {
            let fields = decode(&format!(r#"{{"boolean": {json}, "after": "kept"}}"#));
            assert_eq!(fields.boolean, expected, "{json}");
            assert_eq!(fields.after.as_deref(), Some("kept"), "{json}");
        }
    }

    #[test]
    fn objects_are_decoded_and_anything_else_dropped() {
        let nested = decode(r#"{"object": {"integer": "7"}, "after": "kept"}"#);
        assert_eq!(nested.object.unwrap().integer, Some(7));
        for json in ["null", r#""event""#, "[1, 2]", "3", "false"] {
            let fields = decode(&format!(r#"{{"object": {json}, "after": "kept"}}"#));
            assert_eq!(fields.object, None, "{json}");
            assert_eq!(fields.after.as_deref(), Some("kept"), "{json}");
        }
    }
}
