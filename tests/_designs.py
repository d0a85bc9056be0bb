"""Test helper: a design with some fields changed (``path__to__field=value``), validated again."""


def with_changes(d, **changes):
    data = d.model_dump(exclude={"source_path"})
    for path, v in changes.items():
        node = data
        keys = path.split("__")
        for k in keys[:-1]:
            node = node[k]
        node[keys[-1]] = v
    return type(d).model_validate(data)
