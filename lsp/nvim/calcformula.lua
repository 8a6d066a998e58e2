-- calcformula for Neovim's built-in LSP client (Neovim 0.7 or newer).
-- Put this file in your config (e.g. ~/.config/nvim/lua/calcformula.lua) and add
--   require("calcformula")
-- to init.lua. `calcformula` must be on PATH (pip install calcformula).
vim.filetype.add({ extension = { calc = "calcformula" } })

local function root_dir(file)
  local found = vim.fs and vim.fs.find({ "calcformula.yaml", "calcformula.yml", ".git" },
    { upward = true, path = vim.fs.dirname(file) })[1]
  return found and vim.fs.dirname(found) or vim.fn.getcwd()
end

vim.api.nvim_create_autocmd("FileType", {
  pattern = { "calcformula", "yaml" },
  callback = function(args)
    local name = vim.api.nvim_buf_get_name(args.buf)
    if vim.bo[args.buf].filetype == "yaml" and not name:match("calcformula%.ya?ml$") then
      return
    end
    local config = {
      name = "calcformula",
      cmd = { "calcformula", "lsp" },
      root_dir = root_dir(name),
      init_options = { calcformula = { formatStyle = "canonical" } },
    }
    if vim.lsp.start then
      vim.lsp.start(config) -- Neovim 0.8+
    else
      local client = vim.lsp.start_client(config) -- Neovim 0.7
      vim.lsp.buf_attach_client(args.buf, client)
    end
  end,
})
