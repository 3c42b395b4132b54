//! Writing the gateway's own responses through Pingora.

use crate::pages::Reply;
use pingora::http::ResponseHeader;
use pingora::prelude::*;
use pingora::proxy::Session;

/// Sends a complete reply. `Content-Length` is always set: without it a local
/// response is close-delimited and a keep-alive client waits forever.
pub async fn send(s: &mut Session, reply: Reply) -> Result<()> {
    let mut head = ResponseHeader::build(reply.status, Some(reply.headers.len() + 1))?;
    for (name, value) in reply.headers {
        head.append_header(name, value)?;
    }
    head.insert_header("content-length", reply.body.len().to_string())?;
    let is_head = s.req_header().method == http::Method::HEAD;
    let empty = reply.body.is_empty() || is_head;
    s.write_response_header(Box::new(head), empty).await?;
    if !empty {
        s.write_response_body(Some(reply.body), true).await?;
    }
    Ok(())
}
