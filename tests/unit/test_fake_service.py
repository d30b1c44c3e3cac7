"""The fake-API base behaves as the channel tests rely on: it records, and injected faults
come first, in order, before normal answers resume."""
from aiohttp import ClientSession, web

from tests.fakes.service import FakeService, Fault


class Echo(FakeService):
    def routes(self, app):
        app.router.add_post("/echo", self.echo)

    async def echo(self, request):
        return await self.fault_or_none(request) or web.json_response({"ok": True})


async def test_faults_are_served_in_order_then_normal_answers_resume():
    async with Echo() as fake, ClientSession() as http:
        fake.fail_next(Fault(429, headers=(("Retry-After", "5"),)), Fault(503))
        statuses = []
        for _ in range(3):
            async with http.post(f"{fake.url}/echo", data={"a": "1"}) as response:
                statuses.append((response.status, response.headers.get("Retry-After")))
        assert statuses == [(429, "5"), (503, None), (200, None)]
        assert [request.form for request in fake.requests_to("/echo")] == [{"a": "1"}] * 3
