//! RFC 8785 JSON Canonicalization Scheme (JCS): the bytes a statement's signature covers.
//!
//! Object members sorted by their UTF-16 code units, no white space, strings with the
//! minimal escapes of RFC 8785 §3.2.2.2, numbers as ECMAScript's `Number.prototype.toString`
//! (shortest round-trip digits; exponent form below 1e-6 and from 1e21).

use serde_json::Value;

/// The canonical form of `v`. Fails for numbers JSON cannot carry (NaN, infinities).
pub fn canonicalize(v: &Value) -> Result<String, String> {
    let mut out = String::new();
    write(v, &mut out)?;
    Ok(out)
}

fn write(v: &Value, out: &mut String) -> Result<(), String> {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                if i.unsigned_abs() > (1u64 << 53) {
                    return Err(format!("integer {i} is beyond IEEE 754 double precision"));
                }
                out.push_str(&i.to_string());
            } else if let Some(u) = n.as_u64() {
                if u > (1u64 << 53) {
                    return Err(format!("integer {u} is beyond IEEE 754 double precision"));
                }
                out.push_str(&u.to_string());
            } else {
                out.push_str(&number(n.as_f64().ok_or("number")?)?);
            }
        }
        Value::String(s) => string(s, out),
        Value::Array(a) => {
            out.push('[');
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write(x, out)?;
            }
            out.push(']');
        }
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort_by(|a, b| a.encode_utf16().cmp(b.encode_utf16()));
            out.push('{');
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                string(k, out);
                out.push(':');
                write(&m[k], out)?;
            }
            out.push('}');
        }
    }
    Ok(())
}

fn string(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

/// ECMAScript Number::toString for a finite double.
pub fn number(x: f64) -> Result<String, String> {
    if !x.is_finite() {
        return Err(format!("{x} is not a JSON number"));
    }
    if x == 0.0 {
        return Ok("0".into());
    }
    let neg = x < 0.0;
    let a = x.abs();
    // Shortest round-trip digits and exponent, from Rust's `{:e}` (also shortest).
    let e_form = format!("{a:e}");
    let (mantissa, exp) = e_form.split_once('e').ok_or("exponent")?;
    let exp: i32 = exp.parse().map_err(|_| "exponent")?;
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    let k = digits.len() as i32;
    let n = exp + 1; // position of the decimal point relative to the digits
    let body = if k <= n && n <= 21 {
        format!("{digits}{}", "0".repeat((n - k) as usize))
    } else if 0 < n && n <= 21 {
        format!("{}.{}", &digits[..n as usize], &digits[n as usize..])
    } else if -6 < n && n <= 0 {
        format!("0.{}{digits}", "0".repeat((-n) as usize))
    } else {
        let sign = if n - 1 < 0 { '-' } else { '+' };
        let e = (n - 1).abs();
        if k == 1 {
            format!("{digits}e{sign}{e}")
        } else {
            format!("{}.{}e{sign}{e}", &digits[..1], &digits[1..])
        }
    };
    Ok(if neg { format!("-{body}") } else { body })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn numbers_follow_ecmascript() {
        for (x, want) in [
            (1.0, "1"),
            (-0.0, "0"),
            (0.1, "0.1"),
            (123.456, "123.456"),
            (1e21, "1e+21"),
            (1e20, "100000000000000000000"),
            (1.5e-7, "1.5e-7"),
            (0.000001, "0.000001"),
            (4.5, "4.5"),
            (-2.75, "-2.75"),
            (333333333.33333329, "333333333.3333333"),
            (1e-7, "1e-7"),
            (5e-324, "5e-324"),
            (1.7976931348623157e308, "1.7976931348623157e+308"),
        ] {
            assert_eq!(number(x).unwrap(), want, "{x}");
        }
        assert!(number(f64::NAN).is_err());
    }

    #[test]
    fn objects_are_sorted_and_compact() {
        let v = json!({"b": [1, 2.5, "x"], "a": {"z": null, "é": true, "A": "\u{1}\"\\\n"}, "€": 0, "\u{10000}": 1});
        // "€" (U+20AC) sorts before "\u{10000}" (UTF-16 D800 DC00) by code units.
        assert_eq!(canonicalize(&v).unwrap(), "{\"a\":{\"A\":\"\\u0001\\\"\\\\\\n\",\"z\":null,\"é\":true},\"b\":[1,2.5,\"x\"],\"€\":0,\"\u{10000}\":1}");
    }
}
