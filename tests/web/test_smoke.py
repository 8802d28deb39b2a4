import httpx

from tornadish.web import Application, RequestHandler


class Hello(RequestHandler):
    def get(self) -> None:
        self.write("Hello, world")


async def test_hello_world_over_real_socket(serve, loop_factory) -> None:
    srv = await serve(Application([(r"/", Hello)]))
    async with httpx.AsyncClient() as client:
        r = await client.get(srv.base_url + "/")
    assert r.status_code == 200
    assert r.text == "Hello, world"
    assert r.headers["content-type"] == "text/html; charset=UTF-8"
