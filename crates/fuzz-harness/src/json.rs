//! Arbitrary JSON values for header and claims members of the wrong shape.

use arbitrary::{Arbitrary, Unstructured};
use serde_json::{Map, Number, Value};

/// Nesting stops here: deeper values add nothing the parsers treat
/// differently, and keep inputs from growing without bound.
const MAX_DEPTH: u8 = 2;

/// Any JSON value: null, booleans, integers and floats of every range,
/// strings, and small arrays and objects.
#[derive(Debug, Clone)]
pub struct JsonValue(pub Value);

impl<'a> Arbitrary<'a> for JsonValue {
    fn arbitrary(u: &mut Unstructured<'a>) -> arbitrary::Result<Self> {
        value(u, MAX_DEPTH).map(JsonValue)
    }
}

fn value(u: &mut Unstructured<'_>, depth: u8) -> arbitrary::Result<Value> {
    let kinds = if depth == 0 { 6 } else { 8 };
    Ok(match u.int_in_range(0..=kinds - 1)? {
        0 => Value::Null,
        1 => Value::Bool(u.arbitrary()?),
        2 => Value::from(u.arbitrary::<i64>()?),
        3 => Value::from(u.arbitrary::<u64>()?),
        // serde_json has no NaN or infinity: those become null.
        4 => Number::from_f64(u.arbitrary()?).map_or(Value::Null, Value::Number),
        5 => Value::String(u.arbitrary()?),
        6 => {
            let len = u.int_in_range(0..=3)?;
            Value::Array(
                (0..len)
                    .map(|_| value(u, depth - 1))
                    .collect::<Result<_, _>>()?,
            )
        }
        _ => {
            let len = u.int_in_range(0..=3)?;
            let mut map = Map::new();
            for _ in 0..len {
                map.insert(u.arbitrary()?, value(u, depth - 1)?);
            }
            Value::Object(map)
        }
    })
}
