-- wrk script: GET one ticket; with TT_TOKEN set, every request also carries a
-- Bearer token that the edge verifies (the cost of JWT verification).
local token = os.getenv("TT_TOKEN") or ""
local path = os.getenv("TT_PATH")
function request()
  local headers = {}
  if token ~= "" then headers["Authorization"] = "Bearer " .. token end
  return wrk.format("GET", path, headers)
end
