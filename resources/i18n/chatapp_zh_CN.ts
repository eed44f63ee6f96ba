<?xml version="1.0" encoding="utf-8"?>
<!DOCTYPE TS>
<TS version="2.1" language="zh_CN">
<context>
    <name>ConversationListModel</name>
    <message>
        <location filename="../../chatapp/ui/sidebar.py" line="303"/>
        <source>New conversation</source>
        <extracomment>Conversations per page of the list. Search hits asked for (several may fall in one conversation, which is listed once). Characters of a title and of a snippet that are shown. The conversation (a ConversationRow) of a list item. The invisible root of a list model (a default argument must not be built per call).</extracomment>
        <translation>新对话</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/sidebar.py" line="315"/>
        <source>Pinned: {0}</source>
        <translation>已置顶：{0}</translation>
    </message>
</context>
<context>
    <name>ConversationSidebar</name>
    <message>
        <location filename="../../chatapp/ui/sidebar.py" line="837"/>
        <source>Conversations</source>
        <translation>对话</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/sidebar.py" line="838"/>
        <location filename="../../chatapp/ui/sidebar.py" line="844"/>
        <source>New chat</source>
        <translation>新建对话</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/sidebar.py" line="839"/>
        <source>Search messages…</source>
        <translation>搜索消息…</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/sidebar.py" line="840"/>
        <source>Search messages</source>
        <translation>搜索消息</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/sidebar.py" line="841"/>
        <source>Folder</source>
        <translation>文件夹</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/sidebar.py" line="842"/>
        <source>Undo</source>
        <translation>撤销</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/sidebar.py" line="843"/>
        <source>Dismiss</source>
        <translation>关闭</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/sidebar.py" line="845"/>
        <source>Search conversations</source>
        <translation>搜索对话</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/sidebar.py" line="846"/>
        <source>Rename…</source>
        <translation>重命名…</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/sidebar.py" line="847"/>
        <source>Delete</source>
        <translation>删除</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/sidebar.py" line="848"/>
        <source>Move to folder…</source>
        <translation>移动到文件夹…</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/sidebar.py" line="849"/>
        <source>Undo delete</source>
        <translation>撤销删除</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/sidebar.py" line="852"/>
        <source>Start a new chat ({0})</source>
        <translation>开始新对话（{0}）</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/sidebar.py" line="961"/>
        <source>No messages match “{0}”.</source>
        <translation>没有与“{0}”匹配的消息。</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/sidebar.py" line="963"/>
        <source>No conversations in this folder.</source>
        <translation>此文件夹中没有对话。</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/sidebar.py" line="965"/>
        <source>No conversations yet. Start one with New chat.</source>
        <translation>还没有对话。点击“新建对话”开始。</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/sidebar.py" line="976"/>
        <source>Unpin</source>
        <translation>取消置顶</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/sidebar.py" line="976"/>
        <source>Pin</source>
        <translation>置顶</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/sidebar.py" line="982"/>
        <source>All folders</source>
        <translation>所有文件夹</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/sidebar.py" line="1019"/>
        <source>(No folder)</source>
        <translation>（无文件夹）</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/sidebar.py" line="1024"/>
        <source>Move to folder</source>
        <translation>移动到文件夹</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/sidebar.py" line="1024"/>
        <source>Folder (type a new name to create one):</source>
        <translation>文件夹（输入新名称以创建）：</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/sidebar.py" line="1054"/>
        <source>Deleted “{0}”</source>
        <translation>已删除“{0}”</translation>
    </message>
    <message numerus="yes">
        <location filename="../../chatapp/ui/sidebar.py" line="1056"/>
        <source>Deleted %n conversations</source>
        <translation>
            <numerusform>已删除 %n 个对话</numerusform>
        </translation>
    </message>
</context>
<context>
    <name>MainWindow</name>
    <message>
        <location filename="../../chatapp/ui/main_window.py" line="190"/>
        <source>Starting the model process…</source>
        <extracomment>The status bar&apos;s text for the last reply (&apos;&apos; before one). The reply being generated and saved (None between replies). True from Send until the reply ends: no second message meanwhile. Bumped on every conversation switch, so that a slow load that was overtaken by a later choice does not overwrite the transcript. What the model bar says, as data, so that a language switch can say it again.</extracomment>
        <translation>正在启动模型进程…</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/main_window.py" line="220"/>
        <source>Open model…</source>
        <translation>打开模型…</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/main_window.py" line="221"/>
        <source>Replies appear here.</source>
        <translation>回复会显示在这里。</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/main_window.py" line="223"/>
        <source>Type a message. Enter sends, Shift+Enter starts a new line, Esc stops.</source>
        <translation>输入消息。Enter 发送，Shift+Enter 换行，Esc 停止。</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/main_window.py" line="225"/>
        <source>Send</source>
        <translation>发送</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/main_window.py" line="226"/>
        <source>Stop</source>
        <translation>停止</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/main_window.py" line="236"/>
        <source>No model yet. Install the starter model with `chatapp models starter`, or open a GGUF file.</source>
        <translation>还没有模型。用 `chatapp models starter` 安装入门模型，或打开一个 GGUF 文件。</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/main_window.py" line="238"/>
        <source>Loading {name}…</source>
        <translation>正在加载 {name}…</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/main_window.py" line="240"/>
        <source>Model not loaded: {reason}</source>
        <translation>模型未加载：{reason}</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/main_window.py" line="251"/>
        <source>Chat history</source>
        <translation>聊天记录</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/main_window.py" line="317"/>
        <source>System</source>
        <translation>系统</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/main_window.py" line="324"/>
        <source>stopped</source>
        <translation>已停止</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/main_window.py" line="326"/>
        <source>interrupted: chatapp closed during this reply</source>
        <translation>已中断：生成此回复时 chatapp 已关闭</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/main_window.py" line="340"/>
        <source>Open model</source>
        <translation>打开模型</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/main_window.py" line="340"/>
        <source>GGUF models (*.gguf)</source>
        <translation>GGUF 模型 (*.gguf)</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/main_window.py" line="354"/>
        <source>Load a model first.</source>
        <translation>请先加载模型。</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/main_window.py" line="316"/>
        <source>You</source>
        <translation>你</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/main_window.py" line="316"/>
        <source>Assistant</source>
        <translation>助手</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/main_window.py" line="357"/>
        <source>The chat history is not open yet.</source>
        <translation>聊天记录尚未打开。</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/main_window.py" line="431"/>
        <source>Loading the model: {percent:.0f}%</source>
        <translation>正在加载模型：{percent:.0f}%</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/main_window.py" line="437"/>
        <source>{name} · {arch} · {params:.0f}M parameters · {quant} · context {ctx} · threads {threads} · GPU layers {gpu}</source>
        <translation>{name} · {arch} · {params:.0f}M 参数 · {quant} · 上下文 {ctx} · 线程 {threads} · GPU 层数 {gpu}</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/main_window.py" line="442"/>
        <source>Ready.</source>
        <translation>就绪。</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/main_window.py" line="322"/>
        <location filename="../../chatapp/ui/main_window.py" line="456"/>
        <source>error: {message}</source>
        <translation>错误：{message}</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/main_window.py" line="480"/>
        <source>{n} tokens · {speed} tok/s · first token {ttft:.0f} ms · {reason} · seed {seed}</source>
        <translation>{n} 个词元 · {speed} 词元/秒 · 首词元 {ttft:.0f} 毫秒 · {reason} · 种子 {seed}</translation>
    </message>
</context>
<context>
    <name>StoreService</name>
    <message>
        <location filename="../../chatapp/services/store_service.py" line="135"/>
        <source>Something went wrong with the chat history: {0}</source>
        <translation>聊天记录出错：{0}</translation>
    </message>
    <message>
        <location filename="../../chatapp/services/store_service.py" line="200"/>
        <source>The chat history could not be opened: {0}</source>
        <translation>无法打开聊天记录：{0}</translation>
    </message>
</context>
</TS>
