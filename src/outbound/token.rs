//! Page access tokens: read from the channel's secrets file when delivering, never stored in the
//! database, never logged, and cut out of any text that might carry one into a log or an error.

use std::fmt;

/// A page access token. Its `Debug` and `Display` never show it.
#[derive(Clone)]
pub struct PageToken(String);

impl PageToken {
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// `text` with every occurrence of the token replaced, for errors that quote a request.
    pub fn redact(&self, text: &str) -> String {
        if self.0.is_empty() {
            return text.to_string();
        }
        text.replace(&self.0, "[redacted]")
    }
}

impl fmt::Debug for PageToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PageToken([redacted])")
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TokenError {
    /// A setup fault that waits for an administrator: no delivery can happen until then.
    #[error(
        "the channel has no page access token, so nothing can be sent to the platform; ask an \
         administrator to register one (tavla channel add --access-token-file FILE), then retry"
    )]
    Missing,
    /// Perhaps passing (a secret being rotated or mounted): worth trying again.
    #[error("the channel's access token file {path} cannot be read ({cause}); ask an administrator to check it")]
    Unreadable { path: String, cause: String },
    #[error("the channel's access token file {path} is empty; ask an administrator to put the page access token in it")]
    Empty { path: String },
}

/// Reads the token from the file named for the channel. Read at each delivery, so a renewed
/// token takes effect without a restart.
pub fn load(file: Option<&str>) -> Result<PageToken, TokenError> {
    let path = file.ok_or(TokenError::Missing)?;
    let content = std::fs::read_to_string(path).map_err(|e| TokenError::Unreadable {
        path: path.to_string(),
        cause: e.kind().to_string(),
    })?;
    let token = content.trim();
    if token.is_empty() {
        return Err(TokenError::Empty {
            path: path.to_string(),
        });
    }
    Ok(PageToken(token.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_trims_and_never_shows_the_token() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("token");
        std::fs::write(&path, "EAAB-secret-123\n").unwrap();
        let token = load(Some(path.to_str().unwrap())).unwrap();
        assert_eq!(token.expose(), "EAAB-secret-123");
        assert!(!format!("{token:?}").contains("secret"));
        assert_eq!(
            token.redact("bad token EAAB-secret-123 in EAAB-secret-123"),
            "bad token [redacted] in [redacted]"
        );
    }

    #[test]
    fn missing_unreadable_and_empty_files_say_what_to_do() {
        assert_eq!(load(None).unwrap_err(), TokenError::Missing);
        assert!(load(None)
            .unwrap_err()
            .to_string()
            .contains("administrator"));
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("nothing");
        assert!(matches!(
            load(Some(missing.to_str().unwrap())),
            Err(TokenError::Unreadable { .. })
        ));
        let empty = dir.path().join("empty");
        std::fs::write(&empty, " \n").unwrap();
        assert!(matches!(
            load(Some(empty.to_str().unwrap())),
            Err(TokenError::Empty { .. })
        ));
    }
}
