//! Small conversions shared by the binding files.

use alignkit_core::pool::thread_pool;
use alignkit_core::Error;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple};
use serde_json::{Map, Number, Value};

use crate::error::CoreResult;

/// Serde value (stats structs) to plain Python objects.
pub fn json_to_py(py: Python<'_>, value: &Value) -> PyResult<Py<PyAny>> {
    Ok(match value {
        Value::Null => py.None(),
        Value::Bool(b) => b.into_pyobject(py)?.to_owned().into_any().unbind(),
        Value::Number(n) => {
            if let Some(i) = n.as_u64() {
                i.into_pyobject(py)?.into_any().unbind()
            } else if let Some(i) = n.as_i64() {
                i.into_pyobject(py)?.into_any().unbind()
            } else {
                n.as_f64()
                    .unwrap_or(f64::NAN)
                    .into_pyobject(py)?
                    .into_any()
                    .unbind()
            }
        }
        Value::String(s) => s.into_pyobject(py)?.into_any().unbind(),
        Value::Array(items) => {
            let list = PyList::empty(py);
            for item in items {
                list.append(json_to_py(py, item)?)?;
            }
            list.into_any().unbind()
        }
        Value::Object(map) => {
            let dict = PyDict::new(py);
            for (k, v) in map {
                dict.set_item(k, json_to_py(py, v)?)?;
            }
            dict.into_any().unbind()
        }
    })
}

/// A plain Python value (None, bool, int, float, str, list/tuple, dict with str keys) as a
/// serde value, for settings the core reads by name. Anything else is an error naming its type.
fn py_to_value(obj: &Bound<'_, PyAny>) -> Result<Value, String> {
    if obj.is_none() {
        return Ok(Value::Null);
    }
    // bool before int: Python's bool is an int subclass.
    if let Ok(b) = obj.cast::<PyBool>() {
        return Ok(Value::Bool(b.is_true()));
    }
    if obj.is_instance_of::<PyInt>() {
        return match (obj.extract::<i64>(), obj.extract::<u64>()) {
            (Ok(i), _) => Ok(Value::from(i)),
            (_, Ok(u)) => Ok(Value::from(u)),
            _ => Err(format!("integer {obj} is out of range")),
        };
    }
    if let Ok(f) = obj.cast::<PyFloat>() {
        let v = f.value();
        return Number::from_f64(v)
            .map(Value::Number)
            .ok_or_else(|| format!("{v} is not a finite number"));
    }
    if let Ok(s) = obj.cast::<PyString>() {
        return s
            .to_str()
            .map(|s| Value::String(s.to_owned()))
            .map_err(|e| e.to_string());
    }
    if obj.is_instance_of::<PyList>() || obj.is_instance_of::<PyTuple>() {
        let items = obj.try_iter().map_err(|e| e.to_string())?;
        return items
            .map(|item| py_to_value(&item.map_err(|e| e.to_string())?))
            .collect::<Result<_, _>>()
            .map(Value::Array);
    }
    if let Ok(d) = obj.cast::<PyDict>() {
        let mut map = Map::new();
        for (key, value) in d.iter() {
            let key: String = key
                .extract()
                .map_err(|_| format!("keys must be str, got {key}"))?;
            map.insert(key, py_to_value(&value)?);
        }
        return Ok(Value::Object(map));
    }
    let type_name = obj
        .get_type()
        .name()
        .map(|n| n.to_string())
        .unwrap_or_else(|_| "?".into());
    Err(format!("values of type {type_name} are not supported"))
}

/// Settings by name (a dict with str keys) as a serde map; a value that cannot convert is an
/// error naming its key.
pub fn settings_map(dict: &Bound<'_, PyDict>) -> CoreResult<Map<String, Value>> {
    let mut map = Map::new();
    for (key, value) in dict.iter() {
        let key: String = key
            .extract()
            .map_err(|_| Error::InvalidArgument(format!("setting names must be str, got {key}")))?;
        let value = py_to_value(&value)
            .map_err(|e| Error::InvalidArgument(format!("setting {key}: {e}")))?;
        map.insert(key, value);
    }
    Ok(map)
}

/// Any serialisable stats struct to a Python dict.
pub fn to_py_dict<T: serde::Serialize>(py: Python<'_>, value: &T) -> PyResult<Py<PyAny>> {
    let json = serde_json::to_value(value)
        .map_err(|e| pyo3::exceptions::PyRuntimeError::new_err(e.to_string()))?;
    json_to_py(py, &json)
}

/// Runs `f` with the GIL released on a local pool of `workers` threads (all cores when None).
pub fn run_pooled<T: Send>(
    py: Python<'_>,
    workers: Option<usize>,
    f: impl FnOnce() -> alignkit_core::Result<T> + Send,
) -> CoreResult<T> {
    let pool = thread_pool(workers)?;
    Ok(py.detach(|| pool.install(f))?)
}
