//! The time window of an insights query: `from` and `to` (RFC 3339), with
//! defaults and a longest span, refused with the field when wrong.

use chrono::{DateTime, Duration, Utc};
use lambda_http::Request;

use crate::http::{ApiError, query_time};

/// A checked `[from, to]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window {
    /// The earliest moment.
    pub from: DateTime<Utc>,
    /// The latest moment.
    pub to: DateTime<Utc>,
}

impl Window {
    /// Reads `from`/`to`: `to` defaults to now, `from` to `to - default`;
    /// `from` after `to`, or a span over `longest`, is a 422 naming `from`.
    pub fn parse(
        request: &Request,
        default: Duration,
        longest: Duration,
    ) -> Result<Self, ApiError> {
        let mut errors = Vec::new();
        let from = query_time(request, "from", &mut errors);
        let to = query_time(request, "to", &mut errors);
        if !errors.is_empty() {
            return Err(ApiError::Invalid(errors));
        }
        let to = to.unwrap_or_else(Utc::now);
        let from = from.unwrap_or(to - default);
        if from > to {
            return Err(ApiError::invalid("from", "must not be after `to`"));
        }
        if to - from > longest {
            return Err(ApiError::invalid(
                "from",
                format!("must be at most {} days before `to`", longest.num_days()),
            ));
        }
        Ok(Self { from, to })
    }

    /// The UTC days the window touches, latest first.
    pub fn days_backward(&self) -> Vec<String> {
        let mut days = Vec::new();
        let mut day = self.to.date_naive();
        let first = self.from.date_naive();
        while day >= first {
            days.push(day.format("%Y-%m-%d").to_string());
            match day.pred_opt() {
                Some(before) => day = before,
                None => break,
            }
        }
        days
    }
}
