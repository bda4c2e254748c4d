//! Bindings of `alignkit_core::http`: a parsed HTTP response, as `WarcRecord.http()` returns it.

use alignkit_core::http::HttpResponse;
use pyo3::prelude::*;
use pyo3::types::PyBytes;

/// A parsed HTTP response (body de-chunked).
#[pyclass(name = "HttpResponse", module = "alignkit._core", frozen)]
pub struct PyHttpResponse {
    #[pyo3(get)]
    status: u16,
    #[pyo3(get)]
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    #[pyo3(get)]
    content_type: Option<String>,
    #[pyo3(get)]
    charset: Option<String>,
}

impl From<HttpResponse<'_>> for PyHttpResponse {
    fn from(response: HttpResponse<'_>) -> Self {
        let (content_type, charset) = response.content_type();
        PyHttpResponse {
            status: response.status,
            headers: response.headers,
            body: response.body.into_owned(),
            content_type,
            charset,
        }
    }
}

#[pymethods]
impl PyHttpResponse {
    #[getter]
    fn body<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, &self.body)
    }
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    fn __repr__(&self) -> String {
        format!(
            "HttpResponse(status={}, content_type={:?}, body_length={})",
            self.status,
            self.content_type,
            self.body.len()
        )
    }
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyHttpResponse>()?;
    Ok(())
}
