import { describe, expect, it } from "vitest";
import { fieldErrors } from "./admin-forms";

describe("fieldErrors", () => {
  it("splits a request validation summary into fields, dropping body and list positions", () => {
    expect(fieldErrors("invalid request — body.username: Value error, username: letters, digits and . _ @ - only (no spaces); "
      + "body.password: String should have at least 8 characters; body.breaks.0.latest: a local time like '17:30'")).toEqual([
      { field: "username", message: "letters, digits and . _ @ - only (no spaces)" },
      { field: "password", message: "String should have at least 8 characters" },
      { field: "breaks", message: "a local time like '17:30'" },
    ]);
  });

  it("finds the field a model-level check names inside its message", () => {
    expect(fieldErrors("invalid request — body: Value error, shift_end: must be after shift_start")).toEqual([
      { field: "shift_end", message: "must be after shift_start" },
    ]);
  });

  it("reads a service's own 422 and keeps text that names no field", () => {
    expect(fieldErrors("shift_end: must be after shift_start")).toEqual([{ field: "shift_end", message: "must be after shift_start" }]);
    expect(fieldErrors("the last active admin cannot be demoted")).toEqual([{ field: "", message: "the last active admin cannot be demoted" }]);
  });
});
