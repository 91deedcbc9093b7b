// A frontend's client of atrium, as a team would write it: its types are
// generated from the OpenAPI document the server serves (openapi-typescript
// writes ./schema.d.ts) and its calls go through openapi-fetch. It compiles
// under --strict only if the document describes what this code sends and
// reads; run with a server's base URL, it prints what it got as JSON.
// cmd/atrium's TestAClientGeneratedFromTheDocument does both, in both modes.
import createClient from "openapi-fetch";
import type { paths } from "./schema";

declare const process: { argv: string[]; exit(code: number): never };
const base = process.argv[2];
const api = createClient<paths>({ baseUrl: base });
const out: Record<string, unknown> = {};

async function main() {
  const page = await api.GET("/api/v1/products/{id}/page", {
    params: { path: { id: "p001" }, query: { fields: ["product", "stock"] } },
  });
  if (!page.data) throw new Error("page: " + JSON.stringify(page.error));
  out.page = { name: page.data.product?.name, stock: page.data.stock?.status, sources: Object.keys(page.data._meta.sources) };

  const listing = await api.GET("/api/v1/products", { params: { query: { category: "books", limit: 2 } } });
  out.listing = listing.data?.items.map((i) => i.id);
  out.next = listing.response.headers.get("Link");

  const missing = await api.GET("/api/v1/products/{id}/page", { params: { path: { id: "p999" } } });
  out.missing = { status: missing.response.status, code: missing.error?.code };

  const login = await api.POST("/api/v1/sessions", {
    body: { email: "ada.lovelace@example.com", password: "atrium-u01" },
    headers: { "X-Requested-With": "client" },
  });
  if (!login.data) throw new Error("login: " + JSON.stringify(login.error));
  const cookie = (login.response.headers.get("set-cookie") ?? "").split(";")[0];
  const added = await api.POST("/api/v1/me/cart/items", {
    body: { product_id: "p002", quantity: 1 },
    headers: { Cookie: cookie, "X-Requested-With": "client" },
  });
  out.cart = added.data?.items.map((i) => `${i.product_id}x${i.quantity}`);
  const dash = await api.GET("/api/v1/me/dashboard", { params: { query: { fields: ["user", "cart"] } }, headers: { Cookie: cookie } });
  out.dashboard = { user: dash.data?.user?.id, cart: dash.data?.cart?.total_cents, orders: dash.data?.recent_orders };
  console.log(JSON.stringify(out));
}

main().catch((e) => { console.error(String(e)); process.exit(1); });
