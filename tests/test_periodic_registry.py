from console.periodic import periodic, periodic_jobs


def test_a_registered_job_is_listed_with_its_interval_read_at_each_turn():
    seconds = {"value": 30}

    @periodic("test.registry_job", every=lambda: seconds["value"])
    def job():
        return "ran"

    found = {j.name: j for j in periodic_jobs()}["test.registry_job"]
    assert found.interval_seconds() == 30.0
    seconds["value"] = 5
    assert found.interval_seconds() == 5.0
    assert found.run() == "ran"


def test_a_fixed_interval_is_a_number_of_seconds():
    @periodic("test.fixed_job", every=2)
    def job():
        return None

    assert {j.name: j for j in periodic_jobs()}["test.fixed_job"].interval_seconds() == 2.0
