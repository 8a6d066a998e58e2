-- Headless end-to-end test: open a .calc file of the example project, wait for diagnostics,
-- complete a property name and hover a function, and write what came back as JSON.
local root, out, python = vim.env.CF_ROOT, vim.env.CF_OUT, vim.env.CF_PYTHON
local result = {}
local ok, problem = pcall(function()
  local client = vim.lsp.start_client({
    name = "calcformula", cmd = { python, "-m", "calcformula", "lsp" }, root_dir = root,
  })
  vim.cmd("edit " .. root .. "/formulas/amount_in_home_currency.calc")
  local buf = vim.api.nvim_get_current_buf()
  vim.api.nvim_buf_set_lines(buf, 0, -1, false, { "round_down(amout, 0) + is_present(dea" })
  vim.lsp.buf_attach_client(buf, client)
  vim.wait(20000, function() return #vim.diagnostic.get(buf) > 0 end, 50)
  result.diagnostics = {}
  for _, d in ipairs(vim.diagnostic.get(buf)) do
    table.insert(result.diagnostics, { code = d.code, message = d.message, col = d.col })
  end
  local uri = vim.uri_from_bufnr(buf)
  local completion = vim.lsp.buf_request_sync(buf, "textDocument/completion", {
    textDocument = { uri = uri }, position = { line = 0, character = 37 } }, 20000)
  result.completion = {}
  for _, response in pairs(completion or {}) do
    local items = response.result and (response.result.items or response.result) or {}
    for _, item in ipairs(items) do
      local insert = item.textEdit and item.textEdit.newText or item.insertText or item.label
      table.insert(result.completion, { label = item.label, insert = insert })
    end
  end
  local hover = vim.lsp.buf_request_sync(buf, "textDocument/hover", {
    textDocument = { uri = uri }, position = { line = 0, character = 3 } }, 20000)
  for _, response in pairs(hover or {}) do
    if response.result then result.hover = response.result.contents.value end
  end
end)
if not ok then result.error = tostring(problem) end
local file = io.open(out, "w")
file:write(vim.fn.json_encode(result))
file:close()
vim.cmd("qa!")
