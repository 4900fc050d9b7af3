//! maxResults/nextToken paging over a sorted list of names. The token is opaque to clients:
//! the base64 of the first name of the next page, so a page stays correct when items are
//! added or removed between calls.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use keelson_aws_core::AwsError;

use crate::error::invalid_parameter;

pub struct Page<T> {
    pub items: Vec<T>,
    pub next_token: Option<String>,
}

/// One page of `items` (sorted by `key`), starting at `token`.
pub fn page<T>(
    cluster: Option<&str>,
    items: Vec<T>,
    key: impl Fn(&T) -> &str,
    max: usize,
    token: Option<&str>,
) -> Result<Page<T>, AwsError> {
    let start = match token {
        None => None,
        Some(token) => Some(
            URL_SAFE_NO_PAD
                .decode(token)
                .ok()
                .and_then(|bytes| String::from_utf8(bytes).ok())
                .ok_or_else(|| invalid_parameter(cluster, "The nextToken provided is invalid."))?,
        ),
    };
    let mut rest = items
        .into_iter()
        .filter(|item| start.as_deref().is_none_or(|s| key(item) >= s));
    let page: Vec<T> = rest.by_ref().take(max).collect();
    let next_token = rest.next().map(|next| URL_SAFE_NO_PAD.encode(key(&next)));
    Ok(Page {
        items: page,
        next_token,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("c{i:02}")).collect()
    }

    #[test]
    fn pages_cover_every_item_once() {
        let mut seen = Vec::new();
        let mut token = None;
        loop {
            let page = page(None, names(7), |s| s, 3, token.as_deref()).unwrap();
            assert!(page.items.len() <= 3);
            seen.extend(page.items);
            match page.next_token {
                Some(next) => token = Some(next),
                None => break,
            }
        }
        assert_eq!(seen, names(7));
    }

    #[test]
    fn an_exact_fit_has_no_next_token() {
        let page = page(None, names(3), |s| s, 3, None).unwrap();
        assert_eq!(page.items.len(), 3);
        assert!(page.next_token.is_none());
    }

    #[test]
    fn a_garbage_token_is_an_invalid_parameter() {
        let error = page(None, names(3), |s| s, 3, Some("%%%")).err().unwrap();
        assert_eq!(error.code, "InvalidParameterException");
    }
}
