"""axe-core in a Playwright page (the copy vendored by axe-playwright-python: no download):
the violations of impact serious or critical, one line each, naming the first elements."""

from axe_playwright_python.sync_playwright import Axe

BLOCKING = {"serious", "critical"}
_AXE = Axe()


def serious_violations(page) -> list[str]:
    found = []
    for v in _AXE.run(page).response["violations"]:
        if v.get("impact") in BLOCKING:
            targets = [", ".join(n["target"]) for n in v["nodes"][:3]]
            found.append(f"{v['impact']} {v['id']}: {v['help']} at {targets}")
    return found
