//! A small, complete EDN reader, the [`Edn`] value it produces, and its conversion to JSON.
//!
//! Supported: `nil`, booleans, integers (`i64`, an optional trailing `N`), floats (an
//! optional trailing `M`, and `##Inf`, `##-Inf`, `##NaN`), strings with escapes, character
//! literals, keywords, symbols, lists, vectors, maps and sets. Commas are whitespace, `;`
//! starts a comment to the end of the line, `#_` discards the next form, and a tagged
//! literal (`#inst "..."`, `#uuid "..."`, `#foo/bar x`) reads as its value alone.
//! Errors carry the 1-based line they were found on.

use crate::error::{Error, Result};
use serde_json::{Map, Number, Value};
use std::fmt::{self, Write as _};

/// How deeply forms may nest before the reader gives up (protects the stack).
const MAX_DEPTH: usize = 200;

/// One EDN value.
#[derive(Debug, Clone, PartialEq)]
pub enum Edn {
    /// `nil`.
    Nil,
    /// `true` or `false`.
    Bool(bool),
    /// An integer that fits an `i64`.
    Integer(i64),
    /// A floating-point number (possibly infinite or NaN, from `##Inf` and friends).
    Float(f64),
    /// A string, escapes resolved.
    String(String),
    /// A character literal such as `\a` or `\newline`.
    Char(char),
    /// A keyword, without its leading colon (`:ns/foo` is `"ns/foo"`).
    Keyword(String),
    /// A symbol.
    Symbol(String),
    /// `( ... )`.
    List(Vec<Edn>),
    /// `[ ... ]`.
    Vector(Vec<Edn>),
    /// `{ ... }`, as key–value pairs in the order written.
    Map(Vec<(Edn, Edn)>),
    /// `#{ ... }`, in the order written.
    Set(Vec<Edn>),
}

impl Edn {
    /// Converts to JSON: nil is null, keywords and symbols are strings without a colon,
    /// characters are one-character strings, lists/vectors/sets are arrays, maps are
    /// objects keyed by [`Edn::key_string`], and non-finite floats become null.
    pub fn to_json(&self) -> Value {
        match self {
            Edn::Nil => Value::Null,
            Edn::Bool(b) => Value::Bool(*b),
            Edn::Integer(i) => Value::from(*i),
            Edn::Float(x) => Number::from_f64(*x).map_or(Value::Null, Value::Number),
            Edn::String(s) | Edn::Keyword(s) | Edn::Symbol(s) => Value::String(s.clone()),
            Edn::Char(c) => Value::String(c.to_string()),
            Edn::List(items) | Edn::Vector(items) | Edn::Set(items) => {
                Value::Array(items.iter().map(Edn::to_json).collect())
            }
            Edn::Map(pairs) => {
                let mut obj = Map::new();
                for (k, v) in pairs {
                    obj.insert(k.key_string(), v.to_json());
                }
                Value::Object(obj)
            }
        }
    }

    /// The plain string form of a value, as used for JSON object keys and free-text fields:
    /// a keyword or symbol without a colon, a string as is, a number as its decimal text,
    /// a character as itself, and anything else as its EDN text.
    pub fn key_string(&self) -> String {
        match self {
            Edn::String(s) | Edn::Keyword(s) | Edn::Symbol(s) => s.clone(),
            Edn::Integer(i) => i.to_string(),
            Edn::Char(c) => c.to_string(),
            other => other.to_string(),
        }
    }
}

/// Writes `s` as an EDN string literal, quotes included.
pub(crate) fn write_edn_string(out: &mut impl fmt::Write, s: &str) -> fmt::Result {
    out.write_char('"')?;
    for c in s.chars() {
        match c {
            '"' => out.write_str("\\\"")?,
            '\\' => out.write_str("\\\\")?,
            '\n' => out.write_str("\\n")?,
            '\t' => out.write_str("\\t")?,
            '\r' => out.write_str("\\r")?,
            c if c.is_control() => {
                // Control characters above U+FFFF do not exist, so four digits suffice.
                write!(out, "\\u{:04x}", u32::from(c))?;
            }
            c => out.write_char(c)?,
        }
    }
    out.write_char('"')
}

/// Writes a finite or non-finite float so that it reads back as the same float.
pub(crate) fn write_edn_float(out: &mut impl fmt::Write, x: f64) -> fmt::Result {
    if x.is_nan() {
        out.write_str("##NaN")
    } else if x.is_infinite() {
        out.write_str(if x > 0.0 { "##Inf" } else { "##-Inf" })
    } else {
        // Debug always prints a decimal point or an exponent, and the shortest text
        // that reads back as the same value.
        write!(out, "{x:?}")
    }
}

fn write_seq(f: &mut fmt::Formatter<'_>, open: &str, items: &[Edn], close: &str) -> fmt::Result {
    f.write_str(open)?;
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            f.write_char(' ')?;
        }
        write!(f, "{item}")?;
    }
    f.write_str(close)
}

impl fmt::Display for Edn {
    /// Writes the value as EDN text that reads back as the same value.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Edn::Nil => f.write_str("nil"),
            Edn::Bool(b) => write!(f, "{b}"),
            Edn::Integer(i) => write!(f, "{i}"),
            Edn::Float(x) => write_edn_float(f, *x),
            Edn::String(s) => write_edn_string(f, s),
            Edn::Char(c) => match c {
                '\n' => f.write_str("\\newline"),
                ' ' => f.write_str("\\space"),
                '\t' => f.write_str("\\tab"),
                '\r' => f.write_str("\\return"),
                '\u{8}' => f.write_str("\\backspace"),
                '\u{c}' => f.write_str("\\formfeed"),
                c if c.is_control() || c.is_whitespace() => write!(f, "\\u{:04x}", u32::from(*c)),
                c => write!(f, "\\{c}"),
            },
            Edn::Keyword(k) => write!(f, ":{k}"),
            Edn::Symbol(s) => f.write_str(s),
            Edn::List(items) => write_seq(f, "(", items, ")"),
            Edn::Vector(items) => write_seq(f, "[", items, "]"),
            Edn::Set(items) => write_seq(f, "#{", items, "}"),
            Edn::Map(pairs) => {
                f.write_char('{')?;
                for (i, (k, v)) in pairs.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{k} {v}")?;
                }
                f.write_char('}')
            }
        }
    }
}

/// Reads exactly one EDN form from `text`; anything but whitespace and comments after it
/// is an error. `source_name` names the input in error messages.
pub fn parse_edn(text: &str, source_name: &str) -> Result<Edn> {
    let mut r = EdnReader::new(text, source_name, 1);
    r.skip_ws()?;
    if r.at_end() {
        return Err(r.error(r.line(), "expected an EDN form, found end of input"));
    }
    let form = r.read_form()?;
    r.skip_ws()?;
    if !r.at_end() {
        return Err(r.error(r.line(), "unexpected content after the EDN form"));
    }
    Ok(form)
}

/// Reads every top-level EDN form in `text`, in order.
pub fn parse_edn_all(text: &str, source_name: &str) -> Result<Vec<Edn>> {
    let mut r = EdnReader::new(text, source_name, 1);
    let mut forms = Vec::new();
    loop {
        r.skip_ws()?;
        if r.at_end() {
            return Ok(forms);
        }
        forms.push(r.read_form()?);
    }
}

/// True for the characters that end a token.
fn is_delimiter(c: char) -> bool {
    c.is_whitespace() || matches!(c, ',' | '(' | ')' | '[' | ']' | '{' | '}' | '"' | ';')
}

/// A cursor over EDN text that tracks the current line.
pub(crate) struct EdnReader<'a> {
    text: &'a str,
    pos: usize,
    line: usize,
    source_name: &'a str,
}

impl<'a> EdnReader<'a> {
    /// Reads `text`, whose first line is line `first_line` of `source_name`.
    pub(crate) fn new(text: &'a str, source_name: &'a str, first_line: usize) -> Self {
        EdnReader {
            text,
            pos: 0,
            line: first_line,
            source_name,
        }
    }

    /// The current 1-based line.
    pub(crate) fn line(&self) -> usize {
        self.line
    }

    /// True when only nothing is left (call [`EdnReader::skip_ws`] first).
    pub(crate) fn at_end(&self) -> bool {
        self.pos >= self.text.len()
    }

    /// The unread rest of the text.
    pub(crate) fn rest(&self) -> &'a str {
        &self.text[self.pos..]
    }

    /// The next character, not consumed.
    pub(crate) fn peek(&self) -> Option<char> {
        self.rest().chars().next()
    }

    fn peek2(&self) -> Option<char> {
        let mut it = self.rest().chars();
        it.next();
        it.next()
    }

    /// Consumes one character.
    pub(crate) fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += c.len_utf8();
        if c == '\n' {
            self.line += 1;
        }
        Some(c)
    }

    /// A parse error at `line`.
    pub(crate) fn error(&self, line: usize, message: impl Into<String>) -> Error {
        Error::Parse {
            source_name: self.source_name.to_string(),
            line,
            message: message.into(),
        }
    }

    /// Skips whitespace, commas, comments and `#_`-discarded forms.
    pub(crate) fn skip_ws(&mut self) -> Result<()> {
        self.skip_ws_at(0)
    }

    fn skip_ws_at(&mut self, depth: usize) -> Result<()> {
        loop {
            match self.peek() {
                Some(c) if c.is_whitespace() || c == ',' => {
                    self.bump();
                }
                Some(';') => {
                    while let Some(c) = self.bump() {
                        if c == '\n' {
                            break;
                        }
                    }
                }
                Some('#') if self.peek2() == Some('_') => {
                    let line = self.line;
                    if depth > MAX_DEPTH {
                        return Err(self.error(
                            line,
                            format!("`#_` forms nested more than {MAX_DEPTH} levels deep"),
                        ));
                    }
                    self.bump();
                    self.bump();
                    self.skip_ws_at(depth + 1)?;
                    if self.at_end() {
                        return Err(self.error(line, "`#_` with no form after it to discard"));
                    }
                    self.read_form_at(depth + 1)?;
                }
                _ => return Ok(()),
            }
        }
    }

    /// Reads the next form (skipping whitespace before it); end of input is an error.
    pub(crate) fn read_form(&mut self) -> Result<Edn> {
        self.read_form_at(0)
    }

    fn read_form_at(&mut self, depth: usize) -> Result<Edn> {
        if depth > MAX_DEPTH {
            return Err(self.error(
                self.line,
                format!("forms nested more than {MAX_DEPTH} levels deep"),
            ));
        }
        self.skip_ws_at(depth)?;
        let line = self.line;
        let Some(c) = self.peek() else {
            return Err(self.error(line, "unexpected end of input, expected a form"));
        };
        match c {
            '(' => Ok(Edn::List(self.read_seq('(', ')', depth)?)),
            '[' => Ok(Edn::Vector(self.read_seq('[', ']', depth)?)),
            '{' => self.read_map(depth),
            ')' | ']' | '}' => Err(self.error(
                line,
                format!("unexpected `{c}` with no matching opening bracket"),
            )),
            '"' => self.read_string().map(Edn::String),
            '\\' => self.read_char().map(Edn::Char),
            ':' => {
                self.bump();
                let name = self.read_token();
                if name.is_empty() || name.starts_with(':') || name.ends_with('/') {
                    return Err(self.error(line, format!("invalid keyword `:{name}`")));
                }
                Ok(Edn::Keyword(name.to_string()))
            }
            '#' => self.read_dispatch(depth),
            _ => {
                let token = self.read_token();
                self.classify(token, line)
            }
        }
    }

    /// Reads characters up to the next delimiter.
    fn read_token(&mut self) -> &'a str {
        let start = self.pos;
        while let Some(c) = self.peek() {
            if is_delimiter(c) {
                break;
            }
            self.bump();
        }
        &self.text[start..self.pos]
    }

    /// Reads the elements between `open` and `close`.
    fn read_seq(&mut self, open: char, close: char, depth: usize) -> Result<Vec<Edn>> {
        let open_line = self.line;
        self.bump();
        let mut items = Vec::new();
        loop {
            self.skip_ws_at(depth + 1)?;
            match self.peek() {
                None => {
                    return Err(self.error(
                        open_line,
                        format!("`{open}` opened on line {open_line} is never closed"),
                    ))
                }
                Some(c) if c == close => {
                    self.bump();
                    return Ok(items);
                }
                Some(c @ (')' | ']' | '}')) => {
                    return Err(self.error(
                        self.line,
                        format!(
                            "found `{c}` where `{close}` was expected to close the `{open}` opened on line {open_line}"
                        ),
                    ))
                }
                Some(_) => items.push(self.read_form_at(depth + 1)?),
            }
        }
    }

    fn read_map(&mut self, depth: usize) -> Result<Edn> {
        let open_line = self.line;
        let items = self.read_seq('{', '}', depth)?;
        if items.len() % 2 != 0 {
            return Err(self.error(
                open_line,
                format!(
                    "map opened on line {open_line} has an odd number of forms ({}); every key needs a value",
                    items.len()
                ),
            ));
        }
        let mut pairs = Vec::with_capacity(items.len() / 2);
        let mut it = items.into_iter();
        while let (Some(k), Some(v)) = (it.next(), it.next()) {
            pairs.push((k, v));
        }
        Ok(Edn::Map(pairs))
    }

    fn read_dispatch(&mut self, depth: usize) -> Result<Edn> {
        let line = self.line;
        self.bump(); // '#'
        match self.peek() {
            Some('{') => {
                let items = self.read_seq('{', '}', depth)?;
                Ok(Edn::Set(items))
            }
            Some('#') => {
                self.bump();
                match self.read_token() {
                    "Inf" => Ok(Edn::Float(f64::INFINITY)),
                    "-Inf" => Ok(Edn::Float(f64::NEG_INFINITY)),
                    "NaN" => Ok(Edn::Float(f64::NAN)),
                    other => Err(self.error(line, format!("unknown symbolic value `##{other}`"))),
                }
            }
            Some(c) if c.is_alphabetic() => {
                let tag = self.read_token();
                self.skip_ws_at(depth + 1)?;
                if self.at_end() {
                    return Err(self.error(line, format!("tag `#{tag}` with no value after it")));
                }
                // A tagged literal reads as its value alone.
                self.read_form_at(depth + 1)
            }
            Some(c) => Err(self.error(line, format!("unsupported dispatch `#{c}`"))),
            None => Err(self.error(line, "`#` at end of input")),
        }
    }

    fn read_string(&mut self) -> Result<String> {
        let start_line = self.line;
        self.bump(); // opening quote
        let mut s = String::new();
        loop {
            let Some(c) = self.bump() else {
                return Err(self.error(
                    start_line,
                    format!("unterminated string starting on line {start_line}"),
                ));
            };
            match c {
                '"' => return Ok(s),
                '\\' => {
                    let line = self.line;
                    let Some(e) = self.bump() else {
                        return Err(self.error(
                            start_line,
                            format!("unterminated string starting on line {start_line}"),
                        ));
                    };
                    match e {
                        '"' => s.push('"'),
                        '\\' => s.push('\\'),
                        'n' => s.push('\n'),
                        't' => s.push('\t'),
                        'r' => s.push('\r'),
                        'b' => s.push('\u{8}'),
                        'f' => s.push('\u{c}'),
                        '/' => s.push('/'),
                        'u' => s.push(self.read_unicode_escape(line)?),
                        other => {
                            return Err(
                                self.error(line, format!("unknown escape `\\{other}` in string"))
                            )
                        }
                    }
                }
                c => s.push(c),
            }
        }
    }

    /// Reads the four hex digits after `\u` (and a following low surrogate if needed).
    fn read_unicode_escape(&mut self, line: usize) -> Result<char> {
        let hi = self.read_hex4(line)?;
        if (0xD800..0xDC00).contains(&hi) {
            if self.rest().starts_with("\\u") {
                self.bump();
                self.bump();
                let lo = self.read_hex4(line)?;
                if (0xDC00..0xE000).contains(&lo) {
                    let code = 0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00);
                    if let Some(c) = char::from_u32(code) {
                        return Ok(c);
                    }
                }
            }
            return Err(self.error(line, format!("unpaired surrogate `\\u{hi:04x}` in string")));
        }
        char::from_u32(hi)
            .ok_or_else(|| self.error(line, format!("invalid character `\\u{hi:04x}` in string")))
    }

    fn read_hex4(&mut self, line: usize) -> Result<u32> {
        let digits: String = self.rest().chars().take(4).collect();
        if digits.len() != 4 || !digits.chars().all(|c| c.is_ascii_hexdigit()) {
            return Err(self.error(
                line,
                format!("`\\u` must be followed by four hex digits, found `{digits}`"),
            ));
        }
        for _ in 0..4 {
            self.bump();
        }
        u32::from_str_radix(&digits, 16)
            .map_err(|e| self.error(line, format!("bad `\\u` escape: {e}")))
    }

    fn read_char(&mut self) -> Result<char> {
        let line = self.line;
        self.bump(); // backslash
        let Some(first) = self.bump() else {
            return Err(self.error(line, "character literal `\\` at end of input"));
        };
        let rest = self.read_token();
        if rest.is_empty() {
            return Ok(first);
        }
        let name = format!("{first}{rest}");
        let c = match name.as_str() {
            "newline" => Some('\n'),
            "space" => Some(' '),
            "tab" => Some('\t'),
            "return" => Some('\r'),
            "backspace" => Some('\u{8}'),
            "formfeed" => Some('\u{c}'),
            _ if first == 'u' && rest.len() == 4 && rest.chars().all(|c| c.is_ascii_hexdigit()) => {
                u32::from_str_radix(rest, 16).ok().and_then(char::from_u32)
            }
            _ => None,
        };
        c.ok_or_else(|| self.error(line, format!("unknown character literal `\\{name}`")))
    }

    /// Turns a bare token into nil, a boolean, a number or a symbol.
    fn classify(&self, token: &str, line: usize) -> Result<Edn> {
        match token {
            "nil" => return Ok(Edn::Nil),
            "true" => return Ok(Edn::Bool(true)),
            "false" => return Ok(Edn::Bool(false)),
            _ => {}
        }
        let mut chars = token.chars();
        let first = chars.next();
        let second = chars.next();
        let numeric = match first {
            Some(c) if c.is_ascii_digit() => true,
            Some('+' | '-') => second.is_some_and(|c| c.is_ascii_digit()),
            _ => false,
        };
        if !numeric {
            if token.is_empty() {
                return Err(self.error(line, "empty token"));
            }
            return Ok(Edn::Symbol(token.to_string()));
        }
        if let Some(digits) = token.strip_suffix('N') {
            return self.parse_integer(digits, token, line);
        }
        if let Some(body) = token.strip_suffix('M') {
            return self.parse_float(body, token, line);
        }
        if token.contains('/') {
            return Err(self.error(line, format!("ratios such as `{token}` are not supported")));
        }
        if token.contains(['.', 'e', 'E']) {
            return self.parse_float(token, token, line);
        }
        self.parse_integer(token, token, line)
    }

    fn parse_integer(&self, digits: &str, token: &str, line: usize) -> Result<Edn> {
        let unsigned = digits.strip_prefix(['+', '-']).unwrap_or(digits);
        if unsigned.is_empty() || !unsigned.chars().all(|c| c.is_ascii_digit()) {
            return Err(self.error(line, format!("invalid number `{token}`")));
        }
        digits.parse::<i64>().map(Edn::Integer).map_err(|_| {
            self.error(
                line,
                format!("integer `{token}` is out of range (must fit a signed 64-bit integer)"),
            )
        })
    }

    fn parse_float(&self, body: &str, token: &str, line: usize) -> Result<Edn> {
        let valid_chars = body
            .chars()
            .all(|c| c.is_ascii_digit() || matches!(c, '.' | 'e' | 'E' | '+' | '-'));
        match body.parse::<f64>() {
            Ok(x) if valid_chars && x.is_finite() => Ok(Edn::Float(x)),
            Ok(_) if valid_chars => {
                Err(self.error(line, format!("float `{token}` is out of range")))
            }
            _ => Err(self.error(line, format!("invalid number `{token}`"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn one(text: &str) -> Edn {
        parse_edn(text, "t").unwrap()
    }

    fn err(text: &str) -> (usize, String) {
        match parse_edn_all(text, "t.edn") {
            Err(Error::Parse { line, message, .. }) => (line, message),
            other => panic!("expected a parse error for {text:?}, got {other:?}"),
        }
    }

    #[test]
    fn scalars() {
        assert_eq!(one("nil"), Edn::Nil);
        assert_eq!(one("true"), Edn::Bool(true));
        assert_eq!(one("false"), Edn::Bool(false));
        assert_eq!(one("42"), Edn::Integer(42));
        assert_eq!(one("-7"), Edn::Integer(-7));
        assert_eq!(one("+7"), Edn::Integer(7));
        assert_eq!(one("12N"), Edn::Integer(12));
        assert_eq!(one("9223372036854775807"), Edn::Integer(i64::MAX));
        assert_eq!(one("-9223372036854775808"), Edn::Integer(i64::MIN));
        assert_eq!(one("1.5"), Edn::Float(1.5));
        assert_eq!(one("-2e3"), Edn::Float(-2000.0));
        assert_eq!(one("1.25M"), Edn::Float(1.25));
        assert_eq!(one(":read"), Edn::Keyword("read".into()));
        assert_eq!(one(":ns/foo"), Edn::Keyword("ns/foo".into()));
        assert_eq!(one("foo.bar/baz"), Edn::Symbol("foo.bar/baz".into()));
        assert_eq!(one("-"), Edn::Symbol("-".into()));
        assert_eq!(one("->x"), Edn::Symbol("->x".into()));
        assert_eq!(one("\\a"), Edn::Char('a'));
        assert_eq!(one("\\newline"), Edn::Char('\n'));
        assert_eq!(one("\\u0041"), Edn::Char('A'));
        assert_eq!(one("\\("), Edn::Char('('));
        assert!(matches!(one("##NaN"), Edn::Float(x) if x.is_nan()));
        assert_eq!(one("##-Inf"), Edn::Float(f64::NEG_INFINITY));
    }

    #[test]
    fn string_escapes() {
        assert_eq!(
            one(r#""a\"b\\c\nd\te\rf\u00e9\ud83d\ude00""#),
            Edn::String("a\"b\\c\nd\te\rfé😀".into())
        );
        assert_eq!(one("\"multi\nline\""), Edn::String("multi\nline".into()));
    }

    #[test]
    fn collections_comments_commas_discard_and_tags() {
        let text = r#"
            ; a comment
            {:a [1, 2 (3 #{4 5})], ; trailing comment
             "s" #_ :discarded nil
             :t #inst "2014-01-01T00:00:00Z"
             :u #uuid "f81d4fae-7dec-11d0-a765-00a0c91e6bf6"
             :x #foo/bar [1 #_ #_ 2 3 4]
             7 \a}
        "#;
        let v = one(text);
        assert_eq!(
            v.to_json(),
            json!({
                "a": [1, 2, [3, [4, 5]]],
                "s": null,
                "t": "2014-01-01T00:00:00Z",
                "u": "f81d4fae-7dec-11d0-a765-00a0c91e6bf6",
                "x": [1, 4],
                "7": "a"
            })
        );
        assert!(matches!(v, Edn::Map(ref p) if p.len() == 6));
    }

    #[test]
    fn several_top_level_forms() {
        let forms = parse_edn_all("{:a 1}\n{:b 2} ; c\n#_{:gone 1}\n[]", "t").unwrap();
        assert_eq!(forms.len(), 3);
        assert_eq!(forms[2], Edn::Vector(vec![]));
        assert!(parse_edn_all("  ; nothing\n", "t").unwrap().is_empty());
    }

    #[test]
    fn display_reads_back() {
        let text = r#"{:a [1 -2.5 "q\"\\\n" \a \space nil true], "k" #{:x (y z)}, 3 ##Inf}"#;
        let v = one(text);
        let again = one(&v.to_string());
        assert_eq!(again.to_string(), v.to_string());
        assert_eq!(one("[:not-found \"x\"]").to_string(), "[:not-found \"x\"]");
    }

    #[test]
    fn errors_carry_line_numbers() {
        let (line, msg) = err("[1 2\n \"abc\n\n");
        assert_eq!(line, 2, "{msg}");
        assert!(msg.contains("unterminated string"), "{msg}");

        let (line, msg) = err("\n[1 2\n (3 4\n");
        assert_eq!(line, 3, "{msg}");
        assert!(msg.contains("never closed"), "{msg}");

        let (line, msg) = err("[1\n 2)\n");
        assert_eq!(line, 2, "{msg}");
        assert!(msg.contains("`]` was expected"), "{msg}");

        let (line, msg) = err("{:a 1}\n\n]");
        assert_eq!(line, 3, "{msg}");
        assert!(msg.contains("no matching opening"), "{msg}");

        let (line, msg) = err("\n\n{:a 1\n :b}");
        assert_eq!(line, 3, "{msg}");
        assert!(msg.contains("odd number"), "{msg}");

        let (line, msg) = err("\n99999999999999999999");
        assert_eq!(line, 2, "{msg}");
        assert!(msg.contains("out of range"), "{msg}");

        let (line, msg) = err("\"bad \\q escape\"");
        assert_eq!(line, 1);
        assert!(msg.contains("unknown escape"), "{msg}");

        for bad in [
            "1/2",
            "12abc",
            "\\nope",
            "#_",
            "#inst",
            "##Foo",
            "#\"re\"",
            ":",
            "\"\\u12\"",
            "1e999",
            "\"\\ud800\"",
            "#",
        ] {
            let (line, _) = err(bad);
            assert_eq!(line, 1, "{bad}");
        }
    }

    #[test]
    fn parse_edn_wants_exactly_one_form() {
        assert!(parse_edn("", "t").is_err());
        assert!(parse_edn("1 2", "t").is_err());
        assert_eq!(parse_edn(" 1 ; c", "t").unwrap(), Edn::Integer(1));
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        let text = "[".repeat(100_000);
        let (_, msg) = err(&text);
        assert!(msg.contains("nested"), "{msg}");
        let text = "#_".repeat(100_000);
        assert!(parse_edn_all(&text, "t").is_err());
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_input_never_panics(text in "[ -~\n\t\\\"#_{}()\\[\\];:,éN0-9]{0,80}") {
            let _ = parse_edn_all(&text, "fuzz");
            let _ = crate::import::parse_edn_history(&text, "fuzz");
            let log = format!("INFO  jepsen.util - {text}");
            let _ = crate::import::parse_jepsen_log(&log, "fuzz");
        }

        #[test]
        fn display_reads_back_as_the_same_json(text in "[ -~\n]{0,60}") {
            if let Ok(forms) = parse_edn_all(&text, "fuzz") {
                for form in forms {
                    let again = parse_edn(&form.to_string(), "again").unwrap();
                    let (a, b) = (again.to_json(), form.to_json());
                    proptest::prop_assert_eq!(a, b);
                }
            }
        }
    }
}
