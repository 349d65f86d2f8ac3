"""Branches, file contents and the Git Data API: blobs, trees, commits and refs.
https://docs.github.com/en/rest/git"""

import base64

from ..state import RepoState
from .base import REPO, Answer, ApiError, Call, Route


def get_branch(repo: RepoState, call: Call) -> Answer:
    branch = call.params["branch"]
    sha = repo.refs.get(f"heads/{branch}")
    if sha is None:
        raise ApiError(404, "Branch not found")
    commit = repo.commits[sha]
    summary = {"tree": {"sha": commit["tree"]}, "message": commit["message"]}
    return Answer(
        200, {"name": branch, "commit": {"sha": sha, "commit": summary}, "protected": False}
    )


def get_contents(repo: RepoState, call: Call) -> Answer:
    path = call.params["path"]
    sha = repo.commit_at(call.query.get("ref", "main"))
    tree = repo.trees[repo.commits[sha]["tree"]] if sha else {}
    if path not in tree:
        raise ApiError(404, "Not Found")
    blob_sha = tree[path][1]
    blob = repo.blobs[blob_sha]
    if "raw" in call.accept:  # the file's bytes as they are, up to 100 MB
        return Answer(200, blob, {"Content-Type": "application/vnd.github.raw+json"})
    return Answer(
        200,
        {
            "type": "file",
            "path": path,
            "name": path.rsplit("/", 1)[-1],
            "sha": blob_sha,
            "size": len(blob),
            "encoding": "base64",
            "content": base64.b64encode(blob).decode(),
        },
    )


def put_contents(repo: RepoState, call: Call) -> Answer:
    """Create or replace one file as a new commit on a branch's head, only if the file is
    still the blob `sha` names (409 otherwise, as GitHub answers a stale write)."""
    path, branch = call.params["path"], call.body.get("branch", "main")
    head = repo.refs.get(f"heads/{branch}")
    if head is None:
        raise ApiError(404, f"Branch {branch} not found")
    entries = dict(repo.trees[repo.commits[head]["tree"]])
    current = entries.get(path, ("", None))[1]
    given = call.body.get("sha")
    if current is not None and given is None:
        raise ApiError(422, 'Invalid request.\n\n"sha" wasn\'t supplied.')
    if current is not None and given != current:
        raise ApiError(409, f"{path} does not match {given}")
    blob = repo.put_blob(base64.b64decode(call.body["content"]))
    entries[path] = ("100644", blob)
    commit = repo.put_commit(repo.put_tree(entries), [head], call.body["message"])
    repo.refs[f"heads/{branch}"] = commit
    content = {"name": path.rsplit("/", 1)[-1], "path": path, "sha": blob, "type": "file"}
    answer = {"content": content, "commit": {"sha": commit, "message": call.body["message"]}}
    return Answer(201 if current is None else 200, answer)


def create_blob(repo: RepoState, call: Call) -> Answer:
    content = call.body["content"]
    base64_encoded = call.body.get("encoding") == "base64"
    sha = repo.put_blob(base64.b64decode(content) if base64_encoded else content.encode())
    return Answer(201, {"sha": sha, "url": f"{call.api_url}/repos/{repo.repo}/git/blobs/{sha}"})


def create_tree(repo: RepoState, call: Call) -> Answer:
    base_tree = call.body.get("base_tree")
    if base_tree and base_tree not in repo.trees:
        raise ApiError(422, "base_tree is not a valid tree")
    entries = dict(repo.trees[base_tree]) if base_tree else {}
    for entry in call.body["tree"]:
        if "content" in entry:  # inline text: GitHub makes the blob
            entries[entry["path"]] = (entry["mode"], repo.put_blob(entry["content"].encode()))
        elif entry.get("sha") is None:  # a null SHA deletes the path
            entries.pop(entry["path"], None)
        else:
            entries[entry["path"]] = (entry["mode"], entry["sha"])
    sha = repo.put_tree(entries)
    url = f"{call.api_url}/repos/{repo.repo}/git/trees/{sha}"
    return Answer(201, {"sha": sha, "url": url, "tree": [], "truncated": False})


def get_tree(repo: RepoState, call: Call) -> Answer:
    """A tree by its SHA, or the tree of a commit or branch (as GitHub accepts), whole."""
    commit = repo.commit_at(call.params["tree_sha"])
    tree_sha = repo.commits[commit]["tree"] if commit else call.params["tree_sha"]
    if tree_sha not in repo.trees:
        raise ApiError(404, "Not Found")
    entries = [
        {"path": path, "mode": mode, "type": "blob", "sha": blob, "size": len(repo.blobs[blob])}
        for path, (mode, blob) in sorted(repo.trees[tree_sha].items())
    ]
    return Answer(200, {"sha": tree_sha, "url": "", "tree": entries, "truncated": False})


def create_commit(repo: RepoState, call: Call) -> Answer:
    tree, parents, message = call.body["tree"], call.body["parents"], call.body["message"]
    if tree not in repo.trees or any(p not in repo.commits for p in parents):
        raise ApiError(422, "Tree or parent SHA does not exist")
    sha = repo.put_commit(tree, parents, message)
    return Answer(
        201,
        {
            "sha": sha,
            "tree": {"sha": tree},
            "message": message,
            "parents": [{"sha": p} for p in parents],
        },
    )


def ref_json(repo: RepoState, name: str) -> dict[str, object]:
    return {"ref": f"refs/{name}", "object": {"sha": repo.refs[name], "type": "commit"}}


def create_ref(repo: RepoState, call: Call) -> Answer:
    name = call.body["ref"].removeprefix("refs/")
    if name in repo.refs:
        raise ApiError(422, "Reference already exists")
    if call.body["sha"] not in repo.commits:
        raise ApiError(422, "Object does not exist")
    repo.refs[name] = call.body["sha"]
    return Answer(201, ref_json(repo, name))


def get_ref(repo: RepoState, call: Call) -> Answer:
    name = call.params["ref"]
    if name not in repo.refs:
        raise ApiError(404, "Not Found")
    return Answer(200, ref_json(repo, name))


def update_ref(repo: RepoState, call: Call) -> Answer:
    """Move a ref; unless forced, only to a descendant of where it is (a fast-forward)."""
    name, sha = call.params["ref"], call.body["sha"]
    if name not in repo.refs:
        raise ApiError(422, "Reference does not exist")
    if sha not in repo.commits:
        raise ApiError(422, "Object does not exist")
    if not call.body.get("force") and repo.refs[name] not in repo.ancestors(sha):
        raise ApiError(422, "Update is not a fast forward")
    repo.refs[name] = sha
    return Answer(200, ref_json(repo, name))


ROUTES = [
    Route("GET", REPO + "/branches/{branch}", get_branch),
    Route("GET", REPO + "/contents/{path}", get_contents),
    Route("PUT", REPO + "/contents/{path}", put_contents),
    Route("POST", REPO + "/git/blobs", create_blob),
    Route("POST", REPO + "/git/trees", create_tree),
    Route("GET", REPO + "/git/trees/{tree_sha}", get_tree),
    Route("POST", REPO + "/git/commits", create_commit),
    Route("POST", REPO + "/git/refs", create_ref),
    Route("GET", REPO + "/git/ref/{ref}", get_ref),
    Route("PATCH", REPO + "/git/refs/{ref}", update_ref),
]
