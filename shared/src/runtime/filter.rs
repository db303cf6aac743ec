//! The records API's filter language, parsed into an AST whose every field
//! and literal keeps its byte span, so a refusal can name where it is. A
//! superset of PocketBase's: the comparisons `= != > >= < <= ~ !~`, their
//! any-of forms for multi-valued fields (`?=` …), `in (…)` and `not in (…)`,
//! `is null` and `is not null`, `&&`, `||` and parentheses; typed literals
//! (text in single or double quotes, numbers, `true`, `false`, `null`) and
//! date macros (`@now`, `@today` …). Plain values, no I/O: the type check
//! against a table's schema and the planner take the AST from here.

/// A byte range of the filter text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Span {
    /// First byte.
    pub start: usize,
    /// One past the last byte.
    pub end: usize,
}

/// A value written in a filter.
#[derive(Clone, Debug, PartialEq)]
pub enum Literal {
    /// Quoted text.
    Text(String),
    /// A number.
    Number(f64),
    /// `true` or `false`.
    Bool(bool),
    /// `null`.
    Null,
    /// A date macro, by name (`now`, `today` …).
    Macro(String),
}

/// The date macros a filter may name.
pub const MACROS: &[&str] = &[
    "now",
    "today",
    "yesterday",
    "tomorrow",
    "month_start",
    "year_start",
];

/// How a field is compared with a value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    /// `=`
    Eq,
    /// `!=`
    Ne,
    /// `>`
    Gt,
    /// `>=`
    Ge,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `~`: contains.
    Like,
    /// `!~`: does not contain.
    NotLike,
}

/// A parsed filter.
#[derive(Clone, Debug, PartialEq)]
pub enum Expr {
    /// Every one holds.
    And(Vec<Expr>),
    /// Some one holds.
    Or(Vec<Expr>),
    /// `field op value`; `any` for the `?` forms (some element of a
    /// multi-valued field compares so).
    Compare {
        /// The field's name and where it is.
        field: (String, Span),
        /// The comparison.
        op: Op,
        /// Whether it is the any-of form.
        any: bool,
        /// The value and where it is.
        value: (Literal, Span),
    },
    /// `field in (…)`, or `not in` when `negated`.
    In {
        /// The field.
        field: (String, Span),
        /// `not in`.
        negated: bool,
        /// The values.
        values: Vec<(Literal, Span)>,
    },
    /// `field is null`, or `is not null` when `negated`.
    IsNull {
        /// The field.
        field: (String, Span),
        /// `is not null`.
        negated: bool,
    },
}

/// Why a filter does not parse, and where.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseError {
    /// What is wrong, for a person.
    pub message: String,
    /// Where.
    pub span: Span,
}

/// Longest filter, in bytes.
pub const MAX_FILTER: usize = 4096;
/// Deepest nesting of parentheses.
pub const MAX_DEPTH: usize = 16;
/// Most values an `in` list holds.
pub const MAX_IN: usize = 100;

#[derive(Clone, Debug, PartialEq)]
enum Token {
    Ident(String),
    Text(String),
    Number(f64),
    Macro(String),
    Op(Op, bool),
    And,
    Or,
    Open,
    Close,
    Comma,
}

fn error(message: impl Into<String>, start: usize, end: usize) -> ParseError {
    ParseError {
        message: message.into(),
        span: Span { start, end },
    }
}

fn lex(text: &str) -> Result<Vec<(Token, Span)>, ParseError> {
    let bytes = text.as_bytes();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let start = i;
        let c = bytes[i];
        let two = bytes.get(i..i + 2);
        let token = match c {
            b' ' | b'\t' | b'\n' | b'\r' => {
                i += 1;
                continue;
            }
            b'(' => {
                i += 1;
                Token::Open
            }
            b')' => {
                i += 1;
                Token::Close
            }
            b',' => {
                i += 1;
                Token::Comma
            }
            b'&' if two == Some(b"&&") => {
                i += 2;
                Token::And
            }
            b'|' if two == Some(b"||") => {
                i += 2;
                Token::Or
            }
            b'\'' | b'"' => {
                let mut value = String::new();
                i += 1;
                loop {
                    match bytes.get(i) {
                        None => return Err(error("this text is never closed", start, text.len())),
                        Some(b'\\') if bytes.get(i + 1).is_some_and(|n| *n == c || *n == b'\\') => {
                            value.push(bytes[i + 1] as char);
                            i += 2;
                        }
                        Some(q) if *q == c => {
                            i += 1;
                            break;
                        }
                        Some(_) => {
                            // Copy one whole character, whatever its width.
                            let ch = text[i..].chars().next().unwrap_or_default();
                            value.push(ch);
                            i += ch.len_utf8();
                        }
                    }
                }
                Token::Text(value)
            }
            b'@' => {
                i += 1;
                while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_') {
                    i += 1;
                }
                let name = &text[start + 1..i];
                if !MACROS.contains(&name) {
                    return Err(error(
                        format!(
                            "`@{name}` is no date macro; they are @{}",
                            MACROS.join(", @")
                        ),
                        start,
                        i,
                    ));
                }
                Token::Macro(name.to_string())
            }
            b'0'..=b'9' | b'-' => {
                i += 1;
                while i < bytes.len() && (bytes[i].is_ascii_digit() || bytes[i] == b'.') {
                    i += 1;
                }
                let number = text[start..i]
                    .parse::<f64>()
                    .ok()
                    .filter(|n| n.is_finite())
                    .ok_or_else(|| error("is not a number", start, i))?;
                Token::Number(number)
            }
            b'a'..=b'z' | b'A'..=b'Z' | b'_' => {
                while i < bytes.len()
                    && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_' || bytes[i] == b'.')
                {
                    i += 1;
                }
                Token::Ident(text[start..i].to_string())
            }
            b'?' | b'=' | b'!' | b'>' | b'<' | b'~' => {
                let any = c == b'?';
                if any {
                    i += 1;
                }
                let rest = bytes.get(i..).unwrap_or_default();
                let (op, width) = match rest {
                    [b'!', b'=', ..] => (Op::Ne, 2),
                    [b'!', b'~', ..] => (Op::NotLike, 2),
                    [b'>', b'=', ..] => (Op::Ge, 2),
                    [b'<', b'=', ..] => (Op::Le, 2),
                    [b'=', ..] => (Op::Eq, 1),
                    [b'>', ..] => (Op::Gt, 1),
                    [b'<', ..] => (Op::Lt, 1),
                    [b'~', ..] => (Op::Like, 1),
                    _ => return Err(error("is no operator", start, i + 1)),
                };
                i += width;
                Token::Op(op, any)
            }
            _ => {
                let width = text[i..].chars().next().map_or(1, char::len_utf8);
                return Err(error(
                    "is not part of the filter language",
                    start,
                    start + width,
                ));
            }
        };
        tokens.push((token, Span { start, end: i }));
    }
    Ok(tokens)
}

struct Parser {
    tokens: Vec<(Token, Span)>,
    at: usize,
    end: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.at).map(|(t, _)| t)
    }

    fn span(&self) -> Span {
        self.tokens.get(self.at).map(|(_, s)| *s).unwrap_or(Span {
            start: self.end,
            end: self.end,
        })
    }

    fn next(&mut self) -> Option<(Token, Span)> {
        let token = self.tokens.get(self.at).cloned();
        self.at += 1;
        token
    }

    fn fail<T>(&self, message: &str) -> Result<T, ParseError> {
        let span = self.span();
        Err(error(message, span.start, span.end))
    }

    fn keyword(&self, word: &str) -> bool {
        matches!(self.peek(), Some(Token::Ident(w)) if w.eq_ignore_ascii_case(word))
    }

    fn or(&mut self, depth: usize) -> Result<Expr, ParseError> {
        let mut terms = vec![self.and(depth)?];
        while self.peek() == Some(&Token::Or) {
            self.at += 1;
            terms.push(self.and(depth)?);
        }
        Ok(if terms.len() == 1 {
            terms.remove(0)
        } else {
            Expr::Or(terms)
        })
    }

    fn and(&mut self, depth: usize) -> Result<Expr, ParseError> {
        let mut terms = vec![self.unary(depth)?];
        while self.peek() == Some(&Token::And) {
            self.at += 1;
            terms.push(self.unary(depth)?);
        }
        Ok(if terms.len() == 1 {
            terms.remove(0)
        } else {
            Expr::And(terms)
        })
    }

    fn unary(&mut self, depth: usize) -> Result<Expr, ParseError> {
        if self.peek() == Some(&Token::Open) {
            if depth >= MAX_DEPTH {
                return self.fail(&format!("nests deeper than {MAX_DEPTH} parentheses"));
            }
            self.at += 1;
            let inner = self.or(depth + 1)?;
            if self.peek() != Some(&Token::Close) {
                return self.fail("expected `)`");
            }
            self.at += 1;
            return Ok(inner);
        }
        self.comparison()
    }

    fn literal(&mut self) -> Result<(Literal, Span), ParseError> {
        let span = self.span();
        let literal = match self.next() {
            Some((Token::Text(t), _)) => Literal::Text(t),
            Some((Token::Number(n), _)) => Literal::Number(n),
            Some((Token::Macro(m), _)) => Literal::Macro(m),
            Some((Token::Ident(w), _)) if w == "true" => Literal::Bool(true),
            Some((Token::Ident(w), _)) if w == "false" => Literal::Bool(false),
            Some((Token::Ident(w), _)) if w == "null" => Literal::Null,
            _ => {
                return Err(error(
                    "expected a value: quoted text, a number, true, false, null or a @macro",
                    span.start,
                    span.end,
                ));
            }
        };
        Ok((literal, span))
    }

    fn comparison(&mut self) -> Result<Expr, ParseError> {
        let field = match self.next() {
            Some((Token::Ident(name), span)) => (name, span),
            _ => {
                self.at = self.at.saturating_sub(1);
                return self.fail("expected a field name");
            }
        };
        if self.keyword("is") {
            self.at += 1;
            let negated = self.keyword("not");
            if negated {
                self.at += 1;
            }
            if !self.keyword("null") {
                return self.fail("expected `null`");
            }
            self.at += 1;
            return Ok(Expr::IsNull { field, negated });
        }
        let negated = self.keyword("not");
        if negated {
            self.at += 1;
        }
        if self.keyword("in") {
            self.at += 1;
            if self.peek() != Some(&Token::Open) {
                return self.fail("expected `(`");
            }
            self.at += 1;
            let mut values = vec![self.literal()?];
            while self.peek() == Some(&Token::Comma) {
                self.at += 1;
                values.push(self.literal()?);
            }
            if values.len() > MAX_IN {
                return self.fail(&format!("an `in` list holds at most {MAX_IN} values"));
            }
            if self.peek() != Some(&Token::Close) {
                return self.fail("expected `,` or `)`");
            }
            self.at += 1;
            return Ok(Expr::In {
                field,
                negated,
                values,
            });
        }
        if negated {
            return self.fail("expected `in`");
        }
        let (op, any) = match self.next() {
            Some((Token::Op(op, any), _)) => (op, any),
            _ => {
                self.at = self.at.saturating_sub(1);
                return self.fail(
                    "expected an operator (=, !=, >, >=, <, <=, ~, !~, ?=, …), `in` or `is`",
                );
            }
        };
        let value = self.literal()?;
        Ok(Expr::Compare {
            field,
            op,
            any,
            value,
        })
    }
}

/// Parses a filter.
pub fn parse(text: &str) -> Result<Expr, ParseError> {
    if text.len() > MAX_FILTER {
        return Err(error(
            format!("a filter is at most {MAX_FILTER} bytes"),
            MAX_FILTER,
            text.len(),
        ));
    }
    let tokens = lex(text)?;
    if tokens.is_empty() {
        return Err(error("the filter is empty", 0, text.len()));
    }
    let mut parser = Parser {
        tokens,
        at: 0,
        end: text.len(),
    };
    let expr = parser.or(0)?;
    if parser.at < parser.tokens.len() {
        return parser.fail("expected `&&`, `||` or the end of the filter");
    }
    Ok(expr)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn span(start: usize, end: usize) -> Span {
        Span { start, end }
    }

    #[test]
    fn comparisons_join_with_and_binding_tighter_than_or() -> Result<(), ParseError> {
        let expr = parse("a = 1 || b != 'x' && c ?~ \"y\"")?;
        let Expr::Or(terms) = expr else {
            return Err(error("not an or", 0, 0));
        };
        assert_eq!(terms.len(), 2);
        assert!(matches!(&terms[1], Expr::And(inner) if inner.len() == 2));
        assert_eq!(
            terms[0],
            Expr::Compare {
                field: ("a".into(), span(0, 1)),
                op: Op::Eq,
                any: false,
                value: (Literal::Number(1.0), span(4, 5)),
            }
        );
        Ok(())
    }

    #[test]
    fn in_lists_nulls_macros_and_parentheses() -> Result<(), ParseError> {
        let expr = parse("(state not in ('a', 'b') || due is not null) && at >= @today")?;
        let Expr::And(terms) = expr else {
            return Err(error("not an and", 0, 0));
        };
        assert!(matches!(&terms[0], Expr::Or(inner) if matches!(
            &inner[0], Expr::In { negated: true, values, .. } if values.len() == 2
        ) && matches!(&inner[1], Expr::IsNull { negated: true, .. })));
        assert!(
            matches!(&terms[1], Expr::Compare { value: (Literal::Macro(m), _), op: Op::Ge, .. } if m == "today")
        );
        Ok(())
    }

    #[test]
    fn a_refusal_names_where_it_is() {
        let at = |text: &str| parse(text).err().map(|e| (e.span.start, e.span.end));
        assert_eq!(at("a = "), Some((4, 4)));
        assert_eq!(at("a == 1"), Some((3, 4)));
        assert_eq!(at("a = 'open"), Some((4, 9)));
        assert_eq!(at("a = @soon"), Some((4, 9)));
        assert_eq!(at("(a = 1"), Some((6, 6)));
        assert_eq!(at("a = 1 b = 2"), Some((6, 7)));
        assert_eq!(at("a not = 1"), Some((6, 7)));
        assert_eq!(at("a = 1 # x"), Some((6, 7)));
        assert!(parse(&"(".repeat(20)).is_err());
    }

    #[test]
    fn quotes_escape_and_text_keeps_unicode() -> Result<(), ParseError> {
        let expr = parse(r#"name = 'it\'s ünïcode'"#)?;
        assert!(
            matches!(expr, Expr::Compare { value: (Literal::Text(t), _), .. } if t == "it's ünïcode")
        );
        Ok(())
    }
}
