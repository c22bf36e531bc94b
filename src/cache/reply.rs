//! The reply each command must get, checked: a GET answers a bulk string or nil, a DEL an
//! integer, a SET `OK`, an MGET an array of as many bulk strings or nils as keys. Anything
//! else is a protocol error — never a miss, never a success — so a peer that is not Redis
//! (or a proxy that mangles replies) shows up in the error counts instead of as a cold cache.

use super::error::OpError;
use redis::Value;

/// GET: the value, or `None` for nil.
pub fn bulk_or_nil(cmd: &str, v: Value) -> Result<Option<Vec<u8>>, OpError> {
    match v {
        Value::BulkString(b) => Ok(Some(b)),
        Value::Nil => Ok(None),
        other => Err(wrong(cmd, "a bulk string or nil", &other)),
    }
}

/// DEL, UNLINK: a non-negative integer.
pub fn count(cmd: &str, v: Value) -> Result<u64, OpError> {
    match v {
        Value::Int(n) if n >= 0 => Ok(n as u64),
        other => Err(wrong(cmd, "a non-negative integer", &other)),
    }
}

/// SET, MSET: `OK`.
pub fn ok(cmd: &str, v: Value) -> Result<(), OpError> {
    match v {
        Value::Okay => Ok(()),
        Value::SimpleString(s) if s == "OK" => Ok(()),
        other => Err(wrong(cmd, "OK", &other)),
    }
}

/// PING: `PONG`.
pub fn pong(v: Value) -> Result<(), OpError> {
    match v {
        Value::SimpleString(s) if s == "PONG" => Ok(()),
        other => Err(wrong("PING", "PONG", &other)),
    }
}

/// MGET of `keys` keys: that many bulk strings or nils.
pub fn values(cmd: &str, keys: usize, v: Value) -> Result<Vec<Option<Vec<u8>>>, OpError> {
    match v {
        Value::Array(items) if items.len() == keys => items
            .into_iter()
            .map(|item| bulk_or_nil(cmd, item))
            .collect(),
        Value::Array(items) => Err(OpError::Protocol(format!(
            "{cmd} of {keys} keys answered {} values",
            items.len()
        ))),
        other => Err(wrong(cmd, "an array", &other)),
    }
}

/// INFO: text (a bulk string in RESP2, a verbatim string in RESP3).
pub fn text(cmd: &str, v: Value) -> Result<String, OpError> {
    match v {
        Value::BulkString(b) => Ok(String::from_utf8_lossy(&b).into_owned()),
        Value::VerbatimString { text, .. } => Ok(text),
        other => Err(wrong(cmd, "a bulk string", &other)),
    }
}

/// SCAN: the next cursor and a page of keys.
pub fn scan_page(v: Value) -> Result<(u64, Vec<Vec<u8>>), OpError> {
    let bad = |v: &Value| wrong("SCAN", "[cursor, [keys]]", v);
    let Value::Array(mut parts) = v else {
        return Err(bad(&v));
    };
    if parts.len() != 2 {
        return Err(bad(&Value::Array(parts)));
    }
    let keys = parts.pop().unwrap_or(Value::Nil);
    let cursor = parts.pop().unwrap_or(Value::Nil);
    let cursor = match &cursor {
        Value::BulkString(b) => std::str::from_utf8(b).ok().and_then(|s| s.parse().ok()),
        _ => None,
    }
    .ok_or_else(|| wrong("SCAN", "a numeric cursor", &cursor))?;
    let Value::Array(keys) = keys else {
        return Err(wrong("SCAN", "an array of keys", &keys));
    };
    let keys = keys
        .into_iter()
        .map(|k| match k {
            Value::BulkString(b) => Ok(b),
            other => Err(wrong("SCAN", "keys as bulk strings", &other)),
        })
        .collect::<Result<_, _>>()?;
    Ok((cursor, keys))
}

/// The protocol error for `cmd` answering `got` instead of `expected`.
pub fn wrong(cmd: &str, expected: &str, got: &Value) -> OpError {
    OpError::Protocol(format!(
        "{cmd} expects {expected}, the server answered {}",
        describe(got)
    ))
}

/// A short description of a reply, content cut to a few bytes (it came from the peer).
fn describe(v: &Value) -> String {
    const SHOWN: usize = 32;
    let cut = |s: &[u8]| {
        let text = String::from_utf8_lossy(&s[..s.len().min(SHOWN)]).into_owned();
        if s.len() > SHOWN {
            format!("{text:?}…")
        } else {
            format!("{text:?}")
        }
    };
    match v {
        Value::Nil => "nil".into(),
        Value::Int(n) => format!("the integer {n}"),
        Value::BulkString(b) => format!("the bulk string {}", cut(b)),
        Value::Array(a) => format!("an array of {}", a.len()),
        Value::SimpleString(s) => format!("the status {}", cut(s.as_bytes())),
        Value::Okay => "OK".into(),
        Value::Map(m) => format!("a map of {}", m.len()),
        Value::Set(s) => format!("a set of {}", s.len()),
        Value::Double(d) => format!("the double {d}"),
        Value::Boolean(b) => format!("the boolean {b}"),
        Value::VerbatimString { text, .. } => format!("the text {}", cut(text.as_bytes())),
        Value::ServerError(e) => format!("the error {}", e.code()),
        _ => "an unexpected reply type".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrong_types_are_protocol_errors_not_misses() {
        let e = bulk_or_nil("GET", Value::Int(1)).unwrap_err();
        assert!(matches!(e, OpError::Protocol(_)), "{e}");
        assert!(e.to_string().contains("integer 1"), "{e}");
        assert!(bulk_or_nil("GET", Value::SimpleString("garbage".into())).is_err());
        assert!(bulk_or_nil("GET", Value::Okay).is_err());
        assert_eq!(bulk_or_nil("GET", Value::Nil).unwrap(), None);
        assert!(values("MGET", 2, Value::SimpleString("OK".into())).is_err());
        assert!(values("MGET", 2, Value::Array(vec![Value::Nil])).is_err());
        assert!(values("MGET", 1, Value::Array(vec![Value::Int(3)])).is_err());
        assert!(ok("SET", Value::Int(1)).is_err());
        assert!(ok("SET", Value::SimpleString("garbage".into())).is_err());
        assert!(count("DEL", Value::Okay).is_err());
        assert!(count("DEL", Value::Int(-1)).is_err());
        assert!(pong(Value::SimpleString("garbage".into())).is_err());
        assert!(scan_page(Value::Int(0)).is_err());
    }

    #[test]
    fn right_types_pass() {
        assert_eq!(
            values(
                "MGET",
                2,
                Value::Array(vec![Value::BulkString(b"v".to_vec()), Value::Nil])
            )
            .unwrap(),
            vec![Some(b"v".to_vec()), None]
        );
        assert_eq!(count("DEL", Value::Int(2)).unwrap(), 2);
        ok("SET", Value::Okay).unwrap();
        pong(Value::SimpleString("PONG".into())).unwrap();
        let page = Value::Array(vec![
            Value::BulkString(b"17".to_vec()),
            Value::Array(vec![Value::BulkString(b"k".to_vec())]),
        ]);
        assert_eq!(scan_page(page).unwrap(), (17, vec![b"k".to_vec()]));
    }

    #[test]
    fn descriptions_of_peer_content_are_short() {
        let e = bulk_or_nil("GET", Value::SimpleString("x".repeat(10_000))).unwrap_err();
        assert!(e.to_string().len() < 200, "{e}");
    }
}
