// The reference CLI's side of configuration: the profiles it writes, its flag spellings, and
// max_concurrent_uploads (its field) against our num_threads.
import { describe, expect, test } from "bun:test";
import YAML from "yaml";
import { closestField, hiddenFlagAliases, profileMapping, profileView, REFERENCE_FIELDS, uploadConcurrency } from "../../src/config/index.ts";
import { readProfileDoc } from "../../src/config/profile-doc.ts";

// A profile exactly as the reference writes one: every field of its model, sorted, unset null.
const REFERENCE_PROFILE = `api_key: null
bandwidth_limit: null
current_org_id: null
keep_wakelock_while_upload: null
max_concurrent_uploads: null
num_threads: null
offline: null
path_to_store_record: null
storage_limit: null
`;

describe("profiles the reference writes", () => {
  test("all nine fields null read as nothing set, with no unknown field", () => {
    const doc = readProfileDoc(YAML.parse(REFERENCE_PROFILE), "/p/ref.yaml");
    expect(doc).toEqual({ values: {}, unknown: [], extra: {} });
  });

  test("set values are validated like any profile value", () => {
    const doc = readProfileDoc(
      YAML.parse(REFERENCE_PROFILE.replace("max_concurrent_uploads: null", "max_concurrent_uploads: 2").replace("storage_limit: null", "storage_limit: 2gb")),
      "/p/ref.yaml",
    );
    expect(doc.values).toEqual({ max_concurrent_uploads: 2, storage_limit: 2 * 1024 ** 3 });
    expect(() => readProfileDoc({ max_concurrent_uploads: "many" }, "/p/x.yaml")).toThrow(/max_concurrent_uploads "many" from profile file \/p\/x.yaml/);
  });

  test("an unknown field is reported with the file and the close known field, and kept aside", () => {
    const doc = readProfileDoc({ storage_limt: "2gb", num_threads: 2, colour: "blue" }, "/p/t.yaml");
    expect(doc.values).toEqual({ num_threads: 2 });
    expect(doc.unknown.map((u) => [u.field, u.suggestion])).toEqual([
      ["storage_limt", "storage_limit"],
      ["colour", undefined],
    ]);
    expect(doc.unknown[0]!.message).toBe('Profile file /p/t.yaml has unknown field "storage_limt" (did you mean "storage_limit"?)');
    expect(doc.extra).toEqual({ storage_limt: "2gb", colour: "blue" });
  });

  test("close names are suggested, far ones are not", () => {
    expect(closestField("storage_limt")).toBe("storage_limit");
    expect(closestField("num-threads")).toBe("num_threads");
    expect(closestField("bandwith_limit")).toBe("bandwidth_limit");
    expect(closestField("max_concurent_upload")).toBe("max_concurrent_uploads");
    expect(closestField("colour")).toBeUndefined();
  });
});

describe("profiles we write", () => {
  test("list the reference's nine fields sorted (null when unset), then ours only when set", () => {
    const mapping = profileMapping({ storage_limit: 2 * 1024 ** 3, upload_url: "file:///x", keep_uploaded: undefined });
    expect(Object.keys(mapping)).toEqual([...[...REFERENCE_FIELDS].sort(), "upload_url"]);
    expect(mapping.storage_limit).toBe(2147483648);
    expect(mapping.api_key).toBeNull();
    expect(YAML.stringify(profileMapping({}))).toBe(REFERENCE_PROFILE);
  });

  test("show every field, unset null, the api_key hidden unless asked", () => {
    const view = profileView({ api_key: "sk-1", num_threads: 3 }, false);
    expect(Object.keys(view).slice(0, 9)).toEqual([...REFERENCE_FIELDS]);
    expect(view).toMatchObject({ api_key: "***", num_threads: 3, offline: null, upload_url: null });
    expect(profileView({ api_key: "sk-1" }, true).api_key).toBe("sk-1");
  });
});

test("the reference's --snake_case flag spellings map to our fields", () => {
  expect(hiddenFlagAliases("storage_limit")).toEqual(["storage_limit"]);
  expect(hiddenFlagAliases("path_to_store_record")).toEqual(["path_to_store_record", "storage_path"]);
  expect(hiddenFlagAliases("offline")).toEqual([]);
});

test("uploads at once: max_concurrent_uploads, never above num_threads, num_threads when unset", () => {
  expect(uploadConcurrency({ num_threads: 4, max_concurrent_uploads: null })).toBe(4);
  expect(uploadConcurrency({ num_threads: 4, max_concurrent_uploads: 2 })).toBe(2);
  expect(uploadConcurrency({ num_threads: 2, max_concurrent_uploads: 8 })).toBe(2);
});
