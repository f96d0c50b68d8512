//! HTTP requests a test expects to succeed.

use serde::de::DeserializeOwned;

/// The JSON body of `request`'s answer; panics when the request fails or the body is not `T`.
pub async fn json_of<T: DeserializeOwned>(request: reqwest::RequestBuilder) -> T {
    let answer = request.send().await.expect("the request is answered");
    answer
        .json()
        .await
        .expect("the answer is JSON of the expected shape")
}
