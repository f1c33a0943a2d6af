"""Reads a YAML schedule on stdin and prints it as a text agenda or an HTML page.

Usage: main.py [text|html|yaml]
"""

import sys

import markupsafe
import yaml
from jinja2 import DictLoader, Environment, select_autoescape
from schedule import meetings

TEMPLATES = {
    "agenda.txt": (
        "{{ title }} ({{ timezone }})\n"
        "{% for m in meetings %}"
        "{{ m.start.strftime('%a %Y-%m-%d %H:%M %Z') }}  {{ '%-14s' % m.title }}"
        " {{ m.minutes }} min, {{ m.where }}\n"
        "{% endfor %}"
        "{{ meetings | length }} meetings, {{ meetings | sum(attribute='minutes') }} minutes\n"),
    "agenda.html": (
        "<h1>{{ title }}</h1>\n<ul>\n"
        "{% for m in meetings %}<li>{{ m.start.isoformat() }} {{ m.title }}</li>\n"
        "{% endfor %}</ul>\n"),
}


def main() -> int:
    # the guest runs the packages' pure-Python fallbacks: no libyaml, no markupsafe speedups
    print(f"python {sys.version_info[0]}.{sys.version_info[1]}, "
          f"libyaml {getattr(yaml, '__with_libyaml__', False)}, "
          f"escape {markupsafe._escape_inner.__module__}, "
          f"idna {'bücher.example'.encode('idna').decode()}", file=sys.stderr)
    doc = yaml.safe_load(sys.stdin)
    found = meetings(doc)
    style = sys.argv[1] if len(sys.argv) > 1 else "text"
    if style == "yaml":
        print(yaml.safe_dump({"titles": sorted({m.title for m in found}),
                              "first": found[0].start.isoformat(),
                              "last_end": found[-1].end.isoformat()}, sort_keys=True), end="")
        return 0
    env = Environment(loader=DictLoader(TEMPLATES), autoescape=select_autoescape(["html"]),
                      trim_blocks=True, keep_trailing_newline=True)
    name = "agenda.html" if style == "html" else "agenda.txt"
    print(env.get_template(name).render(title=doc["title"], timezone=doc["timezone"],
                                        meetings=found), end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
