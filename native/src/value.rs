//! One attribute value: the scalar types privlog's steps write.

#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Str(String),
    /// Any int orjson can write (i64 and u64); wider ones go back to Python.
    Int(i128),
    Float(f64),
    Bool(bool),
}

impl Value {
    /// True if orjson (the JSONL store) can write it, as the Python path would.
    pub fn json_ok(&self) -> bool {
        match self {
            Value::Int(v) => *v >= i64::MIN as i128 && *v <= u64::MAX as i128,
            _ => true,
        }
    }
}
