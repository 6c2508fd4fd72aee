//! One result cell of any PostgreSQL type, decoded from the binary protocol, so user-defined
//! queries (whose column types we do not know in advance) and built-in ones share one path.

use std::error::Error;

use exporter_core::LabelValue;
use smol_str::ToSmolStr;
use tokio_postgres::types::{FromSql, Type};

/// PostgreSQL's epoch (2000-01-01) in Unix seconds.
const PG_EPOCH: f64 = 946_684_800.0;

/// One decoded cell.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Cell {
    Null,
    Int(i64),
    Float(f64),
    Bool(bool),
    Text(String),
    /// A point in time, as Unix seconds.
    Time(f64),
    /// An array of numbers (histogram columns of user queries).
    Array(Vec<Option<f64>>),
    /// A type we do not decode; the name is kept for error messages.
    Other(String),
}

impl Cell {
    /// The value as a sample value; `None` for NULL and for values that are not numbers.
    /// Text is parsed as a number, as upstream does.
    pub(crate) fn as_f64(&self) -> Option<f64> {
        match self {
            Cell::Int(i) => Some(*i as f64),
            Cell::Float(f) => Some(*f),
            // Whole seconds, as upstream's time.Time conversion.
            Cell::Time(t) => Some(t.floor()),
            Cell::Bool(b) => Some(if *b { 1.0 } else { 0.0 }),
            Cell::Text(t) => t.trim().parse().ok(),
            Cell::Null | Cell::Array(_) | Cell::Other(_) => None,
        }
    }

    /// The value as a label value (NULL is the empty string).
    pub(crate) fn as_label(&self) -> LabelValue {
        match self {
            Cell::Null | Cell::Array(_) | Cell::Other(_) => LabelValue::default(),
            Cell::Int(i) => i.to_smolstr(),
            Cell::Float(f) | Cell::Time(f) => exporter_core::metric::format_value(*f).into(),
            Cell::Bool(b) => LabelValue::new_static(if *b { "true" } else { "false" }),
            Cell::Text(t) => LabelValue::new(t),
        }
    }

    /// Whether the cell is SQL NULL.
    pub(crate) fn is_null(&self) -> bool {
        matches!(self, Cell::Null)
    }
}

type DecodeResult = Result<Cell, Box<dyn Error + Sync + Send>>;

fn be<const N: usize>(raw: &[u8]) -> Result<[u8; N], Box<dyn Error + Sync + Send>> {
    raw.get(..N)
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| "truncated value".into())
}

/// PostgreSQL's binary NUMERIC: digit count, weight, sign, scale, then base-10000 digits.
pub(crate) fn decode_numeric(raw: &[u8]) -> Option<f64> {
    let header = |i: usize| raw.get(i..i + 2).map(|b| u16::from_be_bytes([b[0], b[1]]));
    let ndigits = header(0)? as usize;
    let weight = header(2)? as i16;
    let sign = header(4)?;
    match sign {
        0xC000 => return Some(f64::NAN),
        0xD000 => return Some(f64::INFINITY),
        0xF000 => return Some(f64::NEG_INFINITY),
        _ => {}
    }
    let mut value = 0.0f64;
    for i in 0..ndigits {
        let digit = header(8 + 2 * i)? as f64;
        value += digit * 10_000f64.powi(weight as i32 - i as i32);
    }
    Some(if sign == 0x4000 { -value } else { value })
}

fn decode_time(micros: i64) -> Cell {
    match micros {
        i64::MAX => Cell::Float(f64::INFINITY),
        i64::MIN => Cell::Float(f64::NEG_INFINITY),
        m => Cell::Time(PG_EPOCH + m as f64 / 1e6),
    }
}

fn decode_inet(raw: &[u8]) -> Option<String> {
    let (family, bits, len) = (*raw.first()?, *raw.get(1)?, *raw.get(3)? as usize);
    let addr = raw.get(4..4 + len)?;
    let (text, full) = match family {
        2 if len == 4 => (
            std::net::Ipv4Addr::new(addr[0], addr[1], addr[2], addr[3]).to_string(),
            32,
        ),
        3 if len == 16 => {
            let octets: [u8; 16] = addr.try_into().ok()?;
            (std::net::Ipv6Addr::from(octets).to_string(), 128)
        }
        _ => return None,
    };
    Some(if bits == full {
        text
    } else {
        format!("{text}/{bits}")
    })
}

fn decode_array(raw: &[u8]) -> Option<Vec<Option<f64>>> {
    let int = |i: usize| {
        raw.get(i..i + 4)
            .map(|b| i32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    };
    let ndim = int(0)?;
    let elem_oid = int(8)? as u32;
    if ndim == 0 {
        return Some(Vec::new());
    }
    if ndim != 1 {
        return None;
    }
    let count = int(12)?.max(0) as usize;
    let elem_type = Type::from_oid(elem_oid)?;
    let mut pos = 20;
    let mut out = Vec::with_capacity(count);
    for _ in 0..count {
        let len = int(pos)?;
        pos += 4;
        if len < 0 {
            out.push(None);
            continue;
        }
        let bytes = raw.get(pos..pos + len as usize)?;
        pos += len as usize;
        out.push(decode(&elem_type, bytes).ok()?.as_f64());
    }
    Some(out)
}

fn decode(ty: &Type, raw: &[u8]) -> DecodeResult {
    Ok(match *ty {
        Type::BOOL => Cell::Bool(be::<1>(raw)?[0] != 0),
        Type::INT2 => Cell::Int(i16::from_be_bytes(be(raw)?) as i64),
        Type::INT4 => Cell::Int(i32::from_be_bytes(be(raw)?) as i64),
        Type::INT8 => Cell::Int(i64::from_be_bytes(be(raw)?)),
        Type::OID | Type::XID | Type::CID | Type::REGCLASS | Type::REGPROC => {
            Cell::Int(u32::from_be_bytes(be(raw)?) as i64)
        }
        Type::XID8 | Type::PG_LSN => Cell::Float(u64::from_be_bytes(be(raw)?) as f64),
        Type::FLOAT4 => Cell::Float(f32::from_be_bytes(be(raw)?) as f64),
        Type::FLOAT8 => Cell::Float(f64::from_be_bytes(be(raw)?)),
        Type::NUMERIC => Cell::Float(decode_numeric(raw).ok_or("bad numeric")?),
        Type::TIMESTAMP | Type::TIMESTAMPTZ => decode_time(i64::from_be_bytes(be(raw)?)),
        Type::DATE => Cell::Time(PG_EPOCH + i32::from_be_bytes(be(raw)?) as f64 * 86_400.0),
        Type::INTERVAL => {
            let micros = i64::from_be_bytes(be(raw)?) as f64;
            let days = i32::from_be_bytes(be(raw.get(8..).unwrap_or_default())?) as f64;
            let months = i32::from_be_bytes(be(raw.get(12..).unwrap_or_default())?) as f64;
            Cell::Float(micros / 1e6 + days * 86_400.0 + months * 30.0 * 86_400.0)
        }
        Type::TEXT | Type::VARCHAR | Type::NAME | Type::BPCHAR | Type::UNKNOWN => {
            Cell::Text(String::from_utf8_lossy(raw).into_owned())
        }
        Type::CHAR => Cell::Text(String::from_utf8_lossy(raw).into_owned()),
        Type::INET | Type::CIDR => Cell::Text(decode_inet(raw).ok_or("bad inet")?),
        Type::FLOAT8_ARRAY
        | Type::FLOAT4_ARRAY
        | Type::INT8_ARRAY
        | Type::INT4_ARRAY
        | Type::INT2_ARRAY
        | Type::NUMERIC_ARRAY => Cell::Array(decode_array(raw).ok_or("bad array")?),
        ref other => Cell::Other(other.name().to_string()),
    })
}

impl<'a> FromSql<'a> for Cell {
    fn from_sql(ty: &Type, raw: &'a [u8]) -> DecodeResult {
        decode(ty, raw)
    }

    fn from_sql_null(_: &Type) -> DecodeResult {
        Ok(Cell::Null)
    }

    fn accepts(_: &Type) -> bool {
        true
    }
}

/// Every cell of a row; a cell that fails to decode becomes [`Cell::Other`].
pub(crate) fn cells(row: &tokio_postgres::Row) -> Vec<Cell> {
    (0..row.len()).map(|i| cell(row, i)).collect()
}

/// The cells of two column ranges of a row, one after the other (a query read by several
/// collectors: each takes the key columns and its own).
pub(crate) fn cells_in(
    row: &tokio_postgres::Row,
    first: std::ops::Range<usize>,
    then: std::ops::Range<usize>,
) -> Vec<Cell> {
    first.chain(then).map(|i| cell(row, i)).collect()
}

fn cell(row: &tokio_postgres::Row, i: usize) -> Cell {
    row.try_get::<_, Cell>(i)
        .unwrap_or_else(|_| match row.columns().get(i) {
            Some(column) => Cell::Other(column.type_().name().to_string()),
            None => Cell::Null,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numeric_binary_format() {
        // 12345.678: ndigits 3, weight 1, sign +, dscale 3, digits 1 2345 6780
        let raw = [0, 3, 0, 1, 0, 0, 0, 3, 0, 1, 0x09, 0x29, 0x1A, 0x7C];
        assert!((decode_numeric(&raw).unwrap() - 12345.678).abs() < 1e-9);
        let neg = [0, 1, 0, 0, 0x40, 0, 0, 0, 0, 7];
        assert_eq!(decode_numeric(&neg), Some(-7.0));
        assert!(decode_numeric(&[0, 0, 0, 0, 0xC0, 0, 0, 0])
            .unwrap()
            .is_nan());
        assert_eq!(decode_numeric(&[0, 0, 0, 0, 0, 0, 0, 0]), Some(0.0));
        assert_eq!(decode_numeric(&[0, 5]), None);
    }

    #[test]
    fn scalar_types() {
        assert_eq!(
            decode(&Type::INT8, &42i64.to_be_bytes()).unwrap(),
            Cell::Int(42)
        );
        assert_eq!(decode(&Type::BOOL, &[1]).unwrap().as_f64(), Some(1.0));
        assert_eq!(
            decode(&Type::TIMESTAMPTZ, &0i64.to_be_bytes()).unwrap(),
            Cell::Time(946_684_800.0)
        );
        assert_eq!(
            decode(&Type::INET, &[2, 32, 0, 4, 127, 0, 0, 1])
                .unwrap()
                .as_label(),
            "127.0.0.1"
        );
        assert_eq!(Cell::Text(" 3.5 ".into()).as_f64(), Some(3.5));
        assert_eq!(Cell::Text("abc".into()).as_f64(), None);
        assert_eq!(Cell::Null.as_label(), "");
        assert!(decode(&Type::INT4, &[0, 1]).is_err());
        // float8[] {1.5, NULL}
        let mut raw = vec![];
        for v in [1i32, 1, 701, 2, 1] {
            raw.extend(v.to_be_bytes());
        }
        raw.extend(8i32.to_be_bytes());
        raw.extend(1.5f64.to_be_bytes());
        raw.extend((-1i32).to_be_bytes());
        assert_eq!(
            decode(&Type::FLOAT8_ARRAY, &raw).unwrap(),
            Cell::Array(vec![Some(1.5), None])
        );
    }
}
